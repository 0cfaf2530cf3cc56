//! SMMUv3 scenarios: the raw encoding every fuzz front end shares (decoded with `arbitrary`),
//! the limits a scenario file must keep, and the standard benchmark workload. The runner and
//! the file format are shared by every model (`sim::runner`, `sim::scenario`).
//!
//! Raw layout: a short head (configuration, clients, CPU programs, listed faults and
//! environment events) decoded with `arbitrary`; every remaining byte is one scheduling
//! decision.

use super::hw::MAX_DEVS;
use super::model::Smmuv3Model;
use super::ops::{Client, Config, EnvEvent, Fault, Op, Program};
use super::variants::Variant;
use super::world::MAX_EVENTS;
use crate::sim::MAX_CPUS;
use arbitrary::{Result as AResult, Unstructured};

/// Most operations per CPU in a scenario file.
pub const MAX_OPS: usize = 32;
/// Most pages one operation names (the ghost tracks up to 253 commands per batch).
pub const MAX_PAGES: u8 = 200;

/// An SMMUv3 scenario: configuration, CPU programs, listed faults and events, and decisions.
pub type Scenario = crate::sim::scenario::Scenario<Config, Op, Fault, EnvEvent>;
/// The JSON scenario file of an SMMUv3 run.
pub type ScenarioFile = crate::sim::scenario::ScenarioFile<Smmuv3Model>;
/// Runs SMMUv3 scenarios, reusing its buffers across executions.
pub type Runner = crate::sim::runner::Runner<Smmuv3Model>;
/// Where decisions come from.
pub type Source<'a> = crate::sim::outcome::Source<'a, super::world::Act>;
pub use crate::sim::outcome::Verdict;

/// `Exit::delay_ms` choices of raw inputs. 1000 ms, the reboot's grace period, came last: an
/// index below 3 still decodes to what it did, so encoded files keep their meaning.
pub const EXIT_DELAYS: [u32; 4] = [0, 500, 2000, 1000];
/// Most buffers an exiting process of a raw input unmaps: 12, two CMD_SYNC timeouts each, run
/// past the 20 s soft-lockup threshold (crashes/smmuv3-shutdown-exit-softlockup).
pub const EXIT_BUFS_MAX: u8 = 12;
/// Most unmaps a client's `.shutdown` of a raw input does (crashes/smmuv3-shutdown-client-order
/// needs 6).
pub const SHUTDOWN_UNMAPS_MAX: u8 = 6;

fn client(u: &mut Unstructured) -> AResult<Client> {
    Ok(Client {
        ats: u.arbitrary()?,
        sva: u.arbitrary()?,
        shutdown_unmaps: u.int_in_range(0..=SHUTDOWN_UNMAPS_MAX)?,
        early: u.int_in_range(0..=3u8)? == 0,
    })
}

fn op(u: &mut Unstructured, ndevs: u8, reboot: &mut bool) -> AResult<Op> {
    let dev = u.int_in_range(0..=ndevs - 1)?;
    Ok(match u.int_in_range(0..=9u8)? {
        0..=3 => {
            let big = u.int_in_range(0..=7u8)? == 0;
            let pages = if big {
                u.int_in_range(9..=130)?
            } else {
                u.int_in_range(1..=8)?
            };
            Op::Unmap { dev, pages }
        }
        4 | 5 => Op::SvaInvalidate {
            pages: u.int_in_range(1..=40)?,
        },
        6 => Op::MmRelease,
        7 | 8 if !*reboot => {
            *reboot = true;
            Op::Reboot
        }
        _ => Op::Exit {
            delay_ms: *u.choose(&EXIT_DELAYS)?,
            bufs: u.int_in_range(1..=EXIT_BUFS_MAX)?,
            pages: u.int_in_range(1..=4)?,
            dev,
        },
    })
}

fn fault(u: &mut Unstructured, ndevs: u8) -> AResult<Fault> {
    let dev = u.int_in_range(0..=ndevs - 1)?;
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Fault::Ill,
        1 => Fault::Abt,
        2 => Fault::Sfm,
        3 => Fault::MsiAbort,
        4 => Fault::Wedge,
        _ => Fault::AtcTimeout(dev),
    })
}

/// Decodes the head of a raw input: configuration, clients, CPU programs, listed faults and
/// environment events.
pub fn head(u: &mut Unstructured) -> AResult<Scenario> {
    let ncpus = u.int_in_range(1..=MAX_CPUS as u8)?;
    let nd = u.int_in_range(1..=3u8)?;
    let mut clients = Vec::with_capacity(nd as usize);
    for _ in 0..nd {
        clients.push(client(u)?);
    }
    let config = Config {
        qshift: *u.choose(&[7u8, 7, 8, 7])?,
        msipoll: u.int_in_range(0..=3u8)? != 0,
        range_inv: u.arbitrary()?,
        atc_timeout_ms: *u.choose(&[500u32, 50, 2000])?,
        grace_ms: *u.choose(&[1000u32, 100])?,
        clients,
    };
    let mut reboot = false;
    let mut cpus = Vec::with_capacity(ncpus as usize);
    for _ in 0..ncpus {
        let n = u.int_in_range(0..=3usize)?;
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            let o = op(u, nd, &mut reboot)?;
            if o == Op::Reboot {
                // The reboot task is a program of its own: it never returns to run more.
                ops.clear();
                ops.push(o);
                break;
            }
            ops.push(o);
        }
        cpus.push(Program { ops });
    }
    let nf = u.int_in_range(0..=3usize)?;
    let mut faults = Vec::with_capacity(nf);
    for _ in 0..nf {
        faults.push(fault(u, nd)?);
    }
    let ne = u.int_in_range(0..=2usize)?;
    let mut env = Vec::with_capacity(ne);
    for _ in 0..ne {
        let d = u.int_in_range(0..=nd - 1)?;
        env.push(if u.arbitrary()? {
            EnvEvent::Hang(d)
        } else {
            EnvEvent::Recover(d)
        });
    }
    Ok(Scenario {
        config,
        cpus,
        faults,
        env,
        decisions: Vec::new(),
    })
}

impl Scenario {
    /// Checks a scenario (from JSON or hand-written) against the model's limits.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.config;
        if !(7..=8).contains(&c.qshift) {
            return Err(format!("config.qshift must be 7 or 8, got {}", c.qshift));
        }
        let nd = c.clients.len();
        if nd == 0 || nd > MAX_DEVS {
            return Err(format!(
                "config.clients must list 1..={MAX_DEVS} devices, got {nd}"
            ));
        }
        if c.atc_timeout_ms == 0 || c.atc_timeout_ms > 600_000 || c.grace_ms > 600_000 {
            return Err(
                "config.atc_timeout_ms must be in 1..=600000, grace_ms at most 600000".into(),
            );
        }
        if c.clients.iter().any(|x| x.shutdown_unmaps > 16) {
            return Err("a client's shutdown_unmaps must be at most 16".into());
        }
        if self.cpus.is_empty() || self.cpus.len() > MAX_CPUS {
            return Err(format!(
                "cpus must list 1..={MAX_CPUS} programs, got {}",
                self.cpus.len()
            ));
        }
        if self.faults.len() > MAX_EVENTS || self.env.len() > MAX_EVENTS {
            return Err(format!(
                "at most {MAX_EVENTS} faults and {MAX_EVENTS} env events"
            ));
        }
        let mut reboots = 0;
        for (i, p) in self.cpus.iter().enumerate() {
            if p.ops.len() > MAX_OPS {
                return Err(format!("cpu{i}: at most {MAX_OPS} operations"));
            }
            for o in &p.ops {
                let ok = match *o {
                    Op::Unmap { dev, pages } => (dev as usize) < nd && pages <= MAX_PAGES,
                    Op::SvaInvalidate { pages } => pages <= MAX_PAGES,
                    Op::MmRelease => true,
                    Op::Exit {
                        delay_ms,
                        bufs,
                        pages,
                        dev,
                    } => {
                        (dev as usize) < nd
                            && pages <= MAX_PAGES
                            && bufs <= 64
                            && delay_ms <= 600_000
                    }
                    Op::Reboot => {
                        reboots += 1;
                        true
                    }
                };
                if !ok {
                    return Err(format!(
                        "cpu{i}: operation {o:?} names an absent device or is too large"
                    ));
                }
            }
        }
        if reboots > 1 {
            return Err("at most one reboot operation".into());
        }
        if self
            .cpus
            .iter()
            .any(|p| p.ops.len() > 1 && p.ops.contains(&Op::Reboot))
        {
            return Err("the reboot operation must be the only operation of its CPU".into());
        }
        let dev_ok = |d: u8| (d as usize) < nd;
        let fdev = self.faults.iter().all(|f| match *f {
            Fault::AtcTimeout(d) => dev_ok(d),
            _ => true,
        });
        if !fdev || !self.env.iter().all(|e| dev_ok(e.dev())) {
            return Err("a fault or env event names an absent device".into());
        }
        Ok(())
    }

    /// True when a CPU runs the reboot task.
    pub fn has_reboot(&self) -> bool {
        self.cpus.iter().any(|p| p.ops.contains(&Op::Reboot))
    }
}

/// Decodes raw fuzzer bytes: the one decoder every front end uses.
pub fn decode(data: &[u8]) -> Scenario {
    crate::sim::model::decode::<Smmuv3Model>(data)
}

/// The standard SMMUv3 benchmark workload: 3 CPUs, a 128-entry queue with MSI polling, two
/// ATS clients (one SVA-bound), unmaps, SVA invalidation and mm release mixed, ATC-timeout,
/// illegal-command and MSI-abort faults listed, and `n` decision streams from a fixed seed.
pub fn bench_inputs(n: usize) -> Vec<Scenario> {
    use rand::{Rng, SeedableRng};
    let prog = |ops: Vec<Op>| Program { ops };
    let cpus = vec![
        prog(vec![
            Op::Unmap { dev: 0, pages: 4 },
            Op::SvaInvalidate { pages: 8 },
        ]),
        prog(vec![Op::MmRelease, Op::Unmap { dev: 1, pages: 2 }]),
        prog(vec![
            Op::Unmap { dev: 0, pages: 1 },
            Op::SvaInvalidate { pages: 3 },
        ]),
    ];
    let config = Config {
        clients: vec![
            Client {
                ats: true,
                sva: true,
                ..Client::default()
            },
            Client {
                ats: true,
                ..Client::default()
            },
        ],
        ..Config::default()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5a3);
    (0..n)
        .map(|_| {
            let mut d = vec![0u8; 96];
            rng.fill_bytes(&mut d);
            Scenario {
                config: config.clone(),
                cpus: cpus.clone(),
                faults: vec![Fault::AtcTimeout(0), Fault::Ill, Fault::MsiAbort],
                env: vec![],
                decisions: d,
            }
        })
        .collect()
}

/// Runs raw fuzzer bytes on a variant: what an SMMUv3 fuzz target calls.
pub fn run_raw(runner: &mut Runner, v: &'static Variant, data: &[u8]) -> Verdict {
    let sc = decode(data);
    runner.run(&sc, v, Source::Bytes(&sc.decisions))
}
