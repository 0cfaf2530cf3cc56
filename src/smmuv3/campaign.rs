//! What the campaign commands need from the SMMUv3 model: how to make a reproducer smaller and
//! move it into what raw inputs can express, which steps decide a bug, its seeds and its raw
//! encoder.

use super::model::Smmuv3Model;
use super::ops::{Client, Config, Fault, Op};
use super::scenario::Scenario;
use super::world::Act;
use crate::cli::campaign::Campaign;
use crate::cli::corpus::Spec;
use crate::cli::minimize::{filter_log, Cand, Shrinker};
use crate::sim::choice::Step;
use std::fs::Metadata;

/// A simpler form of one operation: one page, no delay, one buffer.
fn simpler(o: Op) -> Option<Op> {
    let s = match o {
        Op::Unmap { dev, pages } if pages > 1 => Op::Unmap { dev, pages: 1 },
        Op::SvaInvalidate { pages } if pages > 1 => Op::SvaInvalidate { pages: 1 },
        Op::Exit {
            delay_ms,
            bufs,
            pages,
            dev,
        } if delay_ms > 0 || bufs > 1 || pages > 1 => Op::Exit {
            delay_ms: 0,
            bufs: 1,
            pages: 1,
            dev,
        },
        _ => return None,
    };
    Some(s)
}

/// True when a step names device `d`.
fn names_dev(s: Step<Act>, d: u8) -> bool {
    match s {
        Step::Model(Act::Answer(x) | Act::AtcTimer(x) | Act::Inject(Fault::AtcTimeout(x))) => {
            x == d
        }
        Step::Model(Act::Env(e)) => e.dev() == d,
        _ => false,
    }
}

/// The plainer forms of a client: one feature or shutdown unmap fewer.
fn plainer(cl: &Client) -> Vec<Client> {
    let mut plain = Vec::new();
    if cl.shutdown_unmaps > 0 {
        plain.push(Client {
            shutdown_unmaps: 0,
            ..*cl
        });
    }
    if cl.early {
        plain.push(Client {
            early: false,
            ..*cl
        });
    }
    if cl.sva {
        plain.push(Client { sva: false, ..*cl });
    }
    if cl.ats {
        plain.push(Client { ats: false, ..*cl });
    }
    plain
}

impl Campaign for Smmuv3Model {
    const NAMED: bool = true;

    /// Only a file that names its model: other bytes, even ones starting with `{`, are a raw
    /// input, as the `smmuv3` fuzz target would read them.
    fn is_json(bytes: &[u8]) -> bool {
        crate::cli::input::json_model(bytes).is_some()
    }

    /// One reason for both, as the SMMUv3 loader has always said it.
    fn unfit(meta: &Metadata) -> Option<String> {
        let max = crate::cli::input::MAX_INPUT;
        (meta.is_dir() || meta.len() > max).then(|| format!("not a file of at most {max} bytes"))
    }

    fn op_weight(o: &Op) -> usize {
        match *o {
            Op::Unmap { pages, .. } | Op::SvaInvalidate { pages } => 1 + usize::from(pages > 1),
            Op::Exit {
                delay_ms,
                bufs,
                pages,
                ..
            } => 1 + usize::from(delay_ms > 0) + usize::from(bufs > 1) + usize::from(pages > 1),
            Op::MmRelease | Op::Reboot => 1,
        }
    }

    fn config_things(c: &Config) -> usize {
        c.clients.len()
    }

    fn config_weight(c: &Config) -> usize {
        usize::from(c.qshift)
            + c.clients
                .iter()
                .map(|x| {
                    usize::from(x.shutdown_unmaps)
                        + usize::from(x.ats)
                        + usize::from(x.sva)
                        + usize::from(x.early)
                })
                .sum::<usize>()
    }

    fn renumber_cpu(a: Act, f: impl Fn(u8) -> Option<u8>) -> Option<Act> {
        match a {
            Act::Irq(c) => f(c).map(Act::Irq),
            x => Some(x),
        }
    }

    fn inject(f: Fault) -> Act {
        Act::Inject(f)
    }

    fn fire(e: super::ops::EnvEvent) -> Act {
        Act::Env(e)
    }

    fn simpler_ops(o: &Op) -> Vec<Op> {
        simpler(*o).into_iter().collect()
    }

    /// The last client removed, a 128-entry queue, plainer clients.
    fn smaller_configs(c: &Cand<Self>, v: &mut Vec<Cand<Self>>) {
        let cfg = &c.sc.config;
        let nd = cfg.clients.len();
        if nd > 1 {
            // A candidate whose operations still name the removed client fails validation.
            let gone = (nd - 1) as u8;
            let mut t = filter_log(c, |_, s| (!names_dev(s, gone)).then_some(s));
            t.sc.config.clients.pop();
            v.push(t);
        }
        if cfg.qshift > 7 {
            let mut t = c.clone();
            t.sc.config.qshift = 7;
            v.push(t);
        }
        for (k, cl) in cfg.clients.iter().enumerate() {
            for p in plainer(cl) {
                let mut t = c.clone();
                t.sc.config.clients[k] = p;
                v.push(t);
            }
        }
    }

    /// Moves `c` into the ranges raw inputs can express (exit delays, buffers and pages,
    /// shutdown unmaps, ATC timeout and grace period) when it is outside them and a moved form
    /// keeps the signature. Delays are tried from the longest down, as longer exits keep
    /// reboot-time bugs alive.
    fn rawify(s: &mut Shrinker<Self>, c: Cand<Self>) -> Cand<Self> {
        if super::encode::raw_expressible(&c.sc).is_ok() {
            return c;
        }
        let near = |x: u32, list: &[u32]| {
            *list
                .iter()
                .min_by_key(|&&y| (i64::from(y) - i64::from(x)).abs())
                .expect("non-empty")
        };
        for delay in [2000, 500, 0] {
            let mut t = c.clone();
            let cfg = &mut t.sc.config;
            cfg.atc_timeout_ms = near(cfg.atc_timeout_ms, &[500, 50, 2000]);
            cfg.grace_ms = near(cfg.grace_ms, &[1000, 100]);
            for cl in &mut cfg.clients {
                cl.shutdown_unmaps = cl.shutdown_unmaps.min(2);
            }
            for o in t.sc.cpus.iter_mut().flat_map(|p| &mut p.ops) {
                match o {
                    Op::Exit {
                        delay_ms,
                        bufs,
                        pages,
                        ..
                    } => {
                        if ![0, 500, 2000].contains(delay_ms) {
                            *delay_ms = delay;
                        }
                        *bufs = (*bufs).clamp(1, 6);
                        *pages = (*pages).clamp(1, 4);
                    }
                    Op::Unmap { pages, .. } => *pages = (*pages).clamp(1, 130),
                    Op::SvaInvalidate { pages } => *pages = (*pages).clamp(1, 40),
                    Op::MmRelease | Op::Reboot => {}
                }
            }
            if super::encode::raw_expressible(&t.sc).is_err() {
                break;
            }
            if let Some(n) = s.test(&t) {
                return n;
            }
        }
        c
    }

    fn encode_head(sc: &Scenario) -> Result<Vec<u8>, String> {
        super::encode::encode_head(sc)
    }

    /// A fault, an environment event, an ATC timer, a GERROR interrupt or a reboot request.
    fn decisive(a: &Act) -> bool {
        matches!(
            a,
            Act::Inject(_) | Act::Env(_) | Act::AtcTimer(_) | Act::Irq(_) | Act::Reboot
        )
    }

    fn seeds() -> Vec<Spec<Self>> {
        super::seeds::specs()
    }

    const SEED_TRIES: usize = 3000;
    const SEED_DECISIONS: usize = 128;
    const DICT_HEADER: &'static str =
        "# Scenario heads of the smmuv3 seed corpus, written by `iommufuzz corpus --model smmuv3 --dict`.\n\
         # Each token decodes to the named seed's clients, CPUs, operations, faults and events.\n";

    fn bench_inputs(n: usize) -> Vec<Scenario> {
        super::scenario::bench_inputs(n)
    }
}
