//! The campaign tools for the SMMUv3 model: `corpus --model smmuv3`, the SMMUv3 side of
//! `triage` and `minimize --model smmuv3` (JSON files with `"model": "smmuv3"` need no flag).
//! They work as their VT-d counterparts in corpus.rs, triage.rs and minimize.rs.

use super::smmu::{self, Loaded};
use super::{OracleArgs, Usage};
use crate::sim::choice::Step;
use crate::smmuv3::encode;
use crate::smmuv3::ops::{Client, Config, EnvEvent, Fault, Op, Program};
use crate::smmuv3::scenario::{Runner, Scenario, ScenarioFile, Source};
use crate::smmuv3::variants::Variant;
use crate::smmuv3::world::{parse_step, step_label, Act};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// `println!` that ignores a closed pipe (`| head`).
macro_rules! outln {
    ($($t:tt)*) => {
        super::replay::out(&format!("{}\n", format_args!($($t)*)))
    };
}

/// Decision streams tried per seed before settling for one that only passes.
const TRIES: usize = 3000;
/// Decision bytes of a seed.
const SEED_DECISIONS: usize = 128;

/// One seed: file name, scenario, and a decision label the run must take.
pub struct Spec {
    /// File name in the corpus.
    pub name: String,
    /// The scenario (decisions empty).
    pub sc: Scenario,
    /// A label prefix that must appear among the decisions (`""`: any run).
    pub needs: &'static str,
}

fn sc(config: Config, cpus: Vec<Vec<Op>>, faults: Vec<Fault>, env: Vec<EnvEvent>) -> Scenario {
    Scenario {
        config,
        cpus: cpus.into_iter().map(|ops| Program { ops }).collect(),
        faults,
        env,
        decisions: Vec::new(),
    }
}

/// The SMMUv3 seeds, in a fixed order: one per operation, fault and environment event (the
/// reboot included), plus CONS polling, a 256-entry queue, four CPUs and three clients.
pub fn specs() -> Vec<Spec> {
    let ats = Client {
        ats: true,
        ..Client::default()
    };
    let base = Config::default();
    let two = Config {
        clients: vec![base.clients[0], ats],
        ..base.clone()
    };
    let mut v = Vec::new();
    let mut add = |name: &str, s: Scenario, needs: &'static str| {
        v.push(Spec {
            name: name.into(),
            sc: s,
            needs,
        })
    };
    let one = |ops: Vec<Op>| sc(base.clone(), vec![ops], vec![], vec![]);
    add("op-unmap", one(vec![Op::Unmap { dev: 0, pages: 4 }]), "");
    add(
        "op-unmap-big",
        one(vec![Op::Unmap { dev: 0, pages: 100 }]),
        "",
    );
    add(
        "op-sva-invalidate",
        one(vec![Op::SvaInvalidate { pages: 8 }]),
        "",
    );
    add("op-mm-release", one(vec![Op::MmRelease]), "");
    let exit = Op::Exit {
        delay_ms: 0,
        bufs: 2,
        pages: 2,
        dev: 0,
    };
    add("op-exit", one(vec![exit]), "");
    let shutdown = Config {
        clients: vec![Client {
            ats: true,
            shutdown_unmaps: 1,
            ..Client::default()
        }],
        ..base.clone()
    };
    add(
        "op-reboot",
        sc(
            shutdown,
            vec![vec![Op::Reboot], vec![Op::Unmap { dev: 0, pages: 2 }]],
            vec![],
            vec![],
        ),
        "env:reboot",
    );
    // Two CPUs and two ATS clients, so every fault and event has a queue to act on.
    let busy = |f: Vec<Fault>, e: Vec<EnvEvent>| {
        sc(
            two.clone(),
            vec![
                vec![
                    Op::Unmap { dev: 0, pages: 3 },
                    Op::SvaInvalidate { pages: 2 },
                ],
                vec![Op::Unmap { dev: 1, pages: 2 }, Op::MmRelease],
            ],
            f,
            e,
        )
    };
    add("fault-ill", busy(vec![Fault::Ill], vec![]), "fault:ill");
    add("fault-abt", busy(vec![Fault::Abt], vec![]), "fault:abt");
    add("fault-sfm", busy(vec![Fault::Sfm], vec![]), "fault:sfm");
    add(
        "fault-msi-abort",
        busy(vec![Fault::MsiAbort], vec![]),
        "fault:msi-abort",
    );
    add(
        "fault-wedge",
        busy(vec![Fault::Wedge], vec![]),
        "fault:wedge",
    );
    add(
        "fault-atc-timeout",
        busy(vec![Fault::AtcTimeout(1)], vec![]),
        "fault:atc-timeout",
    );
    add(
        "env-hang",
        busy(vec![], vec![EnvEvent::Hang(1)]),
        "env:hang",
    );
    add(
        "env-recover",
        busy(vec![], vec![EnvEvent::Hang(0), EnvEvent::Recover(0)]),
        "env:recover",
    );
    add(
        "cons-poll",
        sc(
            Config {
                msipoll: false,
                ..two.clone()
            },
            vec![
                vec![Op::Unmap { dev: 0, pages: 2 }],
                vec![Op::Unmap { dev: 1, pages: 1 }],
            ],
            vec![],
            vec![],
        ),
        "",
    );
    add(
        "cpus4-q256",
        sc(
            Config {
                qshift: 8,
                range_inv: false,
                ..base.clone()
            },
            vec![
                vec![
                    Op::Unmap { dev: 0, pages: 6 },
                    Op::SvaInvalidate { pages: 4 }
                ];
                4
            ],
            vec![],
            vec![],
        ),
        "cpu3",
    );
    add(
        "clients3",
        sc(
            Config {
                clients: vec![
                    base.clients[0],
                    ats,
                    Client {
                        early: true,
                        ..Client::default()
                    },
                ],
                atc_timeout_ms: 50,
                grace_ms: 100,
                ..base.clone()
            },
            vec![vec![
                Op::Unmap { dev: 2, pages: 1 },
                Op::Unmap { dev: 1, pages: 2 },
            ]],
            vec![Fault::AtcTimeout(1)],
            vec![],
        ),
        "fault:atc-timeout",
    );
    v
}

/// Searches decision bytes for `s` on `var`: the first stream (from a seed fixed per spec) that
/// takes the needed action without an unsuppressed violation, else the first that passes.
fn decisions(r: &mut Runner, s: &Spec, var: &'static Variant, salt: u64) -> Option<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5eed ^ salt);
    let mut fallback = None;
    for _ in 0..TRIES {
        let mut d = vec![0u8; SEED_DECISIONS];
        rng.fill_bytes(&mut d);
        let v = r.run(&s.sc, var, Source::Bytes(&d));
        if v.violation.is_some() {
            continue;
        }
        let hit = r
            .decisions()
            .0
            .iter()
            .take(d.len())
            .any(|l| l.starts_with(s.needs));
        if hit {
            return Some(d);
        }
        fallback.get_or_insert(d);
    }
    fallback
}

/// The corpus as (file name, bytes).
pub fn build(r: &mut Runner, var: &'static Variant) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, s) in specs().iter().enumerate() {
        if let Some(d) = decisions(r, s, var, i as u64) {
            let bytes = encode::encode(&s.sc, &d).expect("seeds are raw-expressible");
            out.push((s.name.clone(), bytes));
        }
    }
    out
}

/// The libFuzzer/AFL dictionary of the `smmuv3` target: the head of every seed.
pub fn dict() -> String {
    let mut s = String::from(
        "# Scenario heads of the smmuv3 seed corpus, written by `iommufuzz corpus --model smmuv3 --dict`.\n\
         # Each token decodes to the named seed's clients, CPUs, operations, faults and events.\n",
    );
    for sp in specs() {
        let head = encode::encode_head(&sp.sc).expect("seeds are raw-expressible");
        let hex: String = head.iter().map(|b| format!("\\x{b:02x}")).collect();
        s.push_str(&format!("{}=\"{hex}\"\n", sp.name.replace('-', "_")));
    }
    s
}

/// `iommufuzz corpus --model smmuv3 --out DIR`.
pub fn corpus(
    out: &Path,
    variant: Option<&str>,
    dict_out: Option<&Path>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    let var = smmu::variant(variant, None)?;
    let mut r = smmu::runner(o)?;
    if out.exists() && !out.is_dir() {
        return Err(Usage(format!("{}: not a directory", out.display())));
    }
    if dict_out.is_some_and(|d| d.is_dir()) {
        return Err(Usage(format!(
            "{}: is a directory, expected a file",
            dict_out.unwrap_or(out).display()
        )));
    }
    let seeds = build(&mut r, var);
    std::fs::create_dir_all(out).map_err(|e| Usage(format!("{}: {e}", out.display())))?;
    for (name, bytes) in &seeds {
        let p = out.join(name);
        std::fs::write(&p, bytes).map_err(|e| Usage(format!("{}: {e}", p.display())))?;
    }
    if let Some(d) = dict_out {
        std::fs::write(d, dict()).map_err(|e| Usage(format!("{}: {e}", d.display())))?;
    }
    outln!(
        "wrote {} seeds to {} (smmuv3 on {})",
        seeds.len(),
        out.display(),
        var.name
    );
    Ok(0)
}

/// The decisive step of an SMMUv3 decision log: the last injected fault, environment event,
/// ATC timer, GERROR interrupt or reboot request, numbers blanked.
pub fn decisive(log: &[Step<Act>]) -> String {
    log.iter()
        .rev()
        .find(|s| {
            matches!(
                s,
                Step::Model(
                    Act::Inject(_) | Act::Env(_) | Act::AtcTimer(_) | Act::Irq(_) | Act::Reboot
                )
            )
        })
        .map(|s| {
            step_label(s)
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        })
        .unwrap_or_else(|| "schedule".into())
}

/// Runs an SMMUv3 reproducer for triage: its signature line if it violates, `None` if it passes.
pub fn triage_one(r: &mut Runner, l: &Loaded, var: &'static Variant) -> Option<String> {
    let v = r.run(&l.scenario, var, l.source());
    let x = v.violation?;
    let log: Vec<Step<Act>> = r
        .decisions()
        .0
        .iter()
        .filter_map(|s| parse_step(s))
        .collect();
    Some(format!(
        "smmuv3 {} {} @{}",
        var.name,
        x.signature(),
        decisive(&log)
    ))
}

/// An SMMUv3 reproducer being shrunk: the scenario and its labelled decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Cand {
    /// The scenario.
    pub sc: Scenario,
    /// Labelled decisions.
    pub log: Vec<Step<Act>>,
    /// Decisions before the healing phase.
    pub heal_at: usize,
}

impl Cand {
    /// Size order: fewer things first, then fewer decisions, then a smaller configuration.
    pub fn size(&self) -> (usize, usize, usize) {
        let ops: usize = self
            .sc
            .cpus
            .iter()
            .flat_map(|p| &p.ops)
            .map(|o| match *o {
                Op::Unmap { pages, .. } | Op::SvaInvalidate { pages } => 1 + usize::from(pages > 1),
                Op::Exit {
                    delay_ms,
                    bufs,
                    pages,
                    ..
                } => 1 + usize::from(delay_ms > 0) + usize::from(bufs > 1) + usize::from(pages > 1),
                Op::MmRelease | Op::Reboot => 1,
            })
            .sum();
        let c = &self.sc.config;
        let things =
            self.sc.cpus.len() + ops + self.sc.faults.len() + self.sc.env.len() + c.clients.len();
        let cfg = usize::from(c.qshift)
            + c.clients
                .iter()
                .map(|x| {
                    usize::from(x.shutdown_unmaps)
                        + usize::from(x.ats)
                        + usize::from(x.sva)
                        + usize::from(x.early)
                })
                .sum::<usize>();
        (things, self.log.len() + self.heal_at, cfg)
    }
}

fn relabel_cpu(s: Step<Act>, gone: u8) -> Option<Step<Act>> {
    let f = |c: u8| (c != gone).then(|| if c > gone { c - 1 } else { c });
    match s {
        Step::Cpu(c) => f(c).map(Step::Cpu),
        Step::Model(Act::Irq(c)) => f(c).map(|c| Step::Model(Act::Irq(c))),
        x => Some(x),
    }
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

fn filter_log(c: &Cand, mut keep: impl FnMut(usize, Step<Act>) -> Option<Step<Act>>) -> Cand {
    let mut out = c.clone();
    out.log.clear();
    out.heal_at = 0;
    for (i, s) in c.log.iter().enumerate() {
        if let Some(t) = keep(i, *s) {
            out.log.push(t);
            if i < c.heal_at {
                out.heal_at += 1;
            }
        }
    }
    out
}

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

/// Every one-step reduction of `c`, most promising first.
pub fn candidates(c: &Cand) -> Vec<Cand> {
    let mut v = Vec::new();
    if c.log.len() > c.heal_at {
        let mut t = c.clone();
        t.log.truncate(c.heal_at);
        v.push(t);
    }
    for i in (0..c.sc.cpus.len()).rev().filter(|_| c.sc.cpus.len() > 1) {
        let mut t = filter_log(c, |_, s| relabel_cpu(s, i as u8));
        t.sc.cpus.remove(i);
        v.push(t);
    }
    for f in 0..c.sc.faults.len() {
        let gone = c.sc.faults[f];
        let mut t = filter_log(c, |_, s| (s != Step::Model(Act::Inject(gone))).then_some(s));
        t.sc.faults.remove(f);
        v.push(t);
    }
    for e in 0..c.sc.env.len() {
        let gone = c.sc.env[e];
        let mut t = filter_log(c, |_, s| (s != Step::Model(Act::Env(gone))).then_some(s));
        t.sc.env.remove(e);
        v.push(t);
    }
    for (i, p) in c.sc.cpus.iter().enumerate() {
        for j in 0..p.ops.len() {
            let mut t = c.clone();
            t.sc.cpus[i].ops.remove(j);
            v.push(t);
            if let Some(o) = simpler(p.ops[j]) {
                let mut t = c.clone();
                t.sc.cpus[i].ops[j] = o;
                v.push(t);
            }
        }
    }
    decision_chunks(c, &mut v);
    let cfg = &c.sc.config;
    let nd = cfg.clients.len();
    if nd > 1 {
        // The last client; a candidate whose operations still name it fails validation.
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
        for p in plain {
            let mut t = c.clone();
            t.sc.config.clients[k] = p;
            v.push(t);
        }
    }
    v
}

/// Removes chunks of decisions, halving the chunk size down to single decisions (ddmin).
fn decision_chunks(c: &Cand, v: &mut Vec<Cand>) {
    let n = c.log.len();
    if n == 0 {
        return;
    }
    let mut k = n.div_ceil(2);
    loop {
        for s in (0..n).step_by(k) {
            let e = (s + k).min(n);
            v.push(filter_log(c, |i, st| (i < s || i >= e).then_some(st)));
        }
        if k == 1 {
            break;
        }
        k = k.div_ceil(2);
    }
}

/// Most candidate runs one minimization tries.
const MAX_TRIES: usize = 50_000;

/// Runs SMMUv3 candidates and remembers the signature they must keep.
pub struct Shrinker {
    r: Runner,
    var: &'static Variant,
    want: String,
    /// Candidate runs so far.
    pub tries: usize,
}

impl Shrinker {
    /// A shrinker that keeps `want` (a `class:function:cause` signature) on `var`.
    pub fn new(r: Runner, var: &'static Variant, want: String) -> Self {
        Shrinker {
            r,
            var,
            want,
            tries: 0,
        }
    }

    /// Runs `c`; its normalized form (the decisions actually taken) if it still fails with the
    /// wanted signature.
    pub fn test(&mut self, c: &Cand) -> Option<Cand> {
        if c.sc.validate().is_err() || self.tries >= MAX_TRIES {
            return None;
        }
        self.tries += 1;
        let v = self
            .r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        if v.violation?.signature() != self.want {
            return None;
        }
        let (labels, heal_at) = self.r.decisions();
        Some(Cand {
            sc: c.sc.clone(),
            log: labels.iter().filter_map(|l| parse_step(l)).collect(),
            heal_at,
        })
    }

    /// Shrinks `c` (which must fail with the wanted signature) until no candidate helps.
    pub fn shrink(&mut self, mut c: Cand) -> Cand {
        'outer: while self.tries < MAX_TRIES {
            for t in candidates(&c) {
                if let Some(n) = self.test(&t) {
                    let best = if n.size() <= t.size() { n } else { t };
                    if best.size() < c.size() {
                        c = best;
                        continue 'outer;
                    }
                }
            }
            break;
        }
        c
    }

    /// `c` moved into the ranges raw inputs can express (exit delays, buffers and pages, shutdown
    /// unmaps, ATC timeout and grace period), if it is outside them and a moved form keeps the
    /// signature; else `c`. Delays are tried from the longest down, as longer exits keep
    /// reboot-time bugs alive.
    pub fn rawify(&mut self, c: Cand) -> Cand {
        if encode::raw_expressible(&c.sc).is_ok() {
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
            if encode::raw_expressible(&t.sc).is_err() {
                break;
            }
            if let Some(n) = self.test(&t) {
                return n;
            }
        }
        c
    }

    /// The raw form of `c`: encoded head plus the decision bytes taken before healing, if the
    /// raw decoder can express the scenario and the raw run keeps the signature.
    pub fn raw(&mut self, c: &Cand) -> Result<Vec<u8>, String> {
        self.r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        let heal_at = self.r.decisions().1;
        let picks = encode::pick_bytes(&self.r.picks()[..heal_at])?;
        let raw = encode::encode(&c.sc, &picks)?;
        let sc = crate::smmuv3::scenario::decode(&raw);
        let v = self.r.run(&sc, self.var, Source::Bytes(&sc.decisions));
        match v.violation {
            Some(x) if x.signature() == self.want => Ok(raw),
            other => Err(format!(
                "the raw form gives {} instead",
                other
                    .map(|x| x.signature())
                    .unwrap_or_else(|| "a pass".into())
            )),
        }
    }
}

/// `iommufuzz minimize FILE --model smmuv3`: writes `<out>.json` and `<out>.raw`.
pub fn minimize(
    file: &Path,
    variant: Option<&str>,
    json: &Path,
    raw: &Path,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    let l = smmu::load(file)?;
    let var = smmu::variant(variant, l.variant.as_deref())?;
    let mut r = smmu::runner(o)?;
    let v = r.run(&l.scenario, var, l.source());
    let Some(x) = v.violation else {
        return Err(Usage(format!(
            "{}: passes on {}, nothing to minimize",
            file.display(),
            var.name
        )));
    };
    let want = x.signature();
    let (labels, heal_at) = r.decisions();
    let start = Cand {
        sc: l.scenario.clone(),
        log: labels.iter().filter_map(|l| parse_step(l)).collect(),
        heal_at,
    };
    let mut s = Shrinker::new(r, var, want.clone());
    let before = (start.size().0, start.log.len());
    let min = s.shrink(start);
    let min = s.rawify(min);
    let f = ScenarioFile {
        model: smmu::MODEL.into(),
        variant: var.name.into(),
        scenario: min.sc.clone(),
        decisions: min.log.iter().map(step_label).collect(),
        heal_at: min.heal_at,
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| Usage(e.to_string()))?;
    let io = |p: &Path, e: std::io::Error| Usage(format!("{}: {e}", p.display()));
    std::fs::write(json, text + "\n").map_err(|e| io(json, e))?;
    outln!(
        "minimized {want} on smmuv3 {}: size {} with {} decisions -> {} with {} ({} runs)",
        var.name,
        before.0,
        before.1,
        min.size().0,
        min.log.len(),
        s.tries
    );
    outln!("  wrote {}", json.display());
    match s.raw(&min) {
        Ok(bytes) => {
            std::fs::write(raw, &bytes).map_err(|e| io(raw, e))?;
            outln!("  wrote {} ({} bytes)", raw.display(), bytes.len());
        }
        Err(e) => outln!("  no raw form: {e}"),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisive_step_is_the_last_injection_with_numbers_blanked() {
        let log = vec![
            Step::Cpu(1),
            Step::Model(Act::Inject(Fault::AtcTimeout(1))),
            Step::Model(Act::Consume),
            Step::Cpu(0),
        ];
        assert_eq!(decisive(&log), "fault:atc-timeout dev#");
        assert_eq!(decisive(&log[..1]), "schedule");
        let log = [Step::Model(Act::Reboot), Step::Model(Act::Answer(0))];
        assert_eq!(decisive(&log), "env:reboot");
    }

    #[test]
    fn every_seed_is_raw_expressible_and_names_are_unique() {
        let s = specs();
        for (i, a) in s.iter().enumerate() {
            assert!(encode::encode_head(&a.sc).is_ok(), "{}", a.name);
            assert!(s[i + 1..].iter().all(|b| b.name != a.name));
        }
    }
}
