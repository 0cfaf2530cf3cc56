//! `iommufuzz minimize FILE`: shrinks a reproducer by meaning while the same violation signature
//! persists, then writes it as a JSON scenario file and as raw bytes every engine replays.
//!
//! Byte-level minimizers (`cargo fuzz tmin`, `afl-tmin`) cut bytes; here each candidate drops
//! something a reader would name — a CPU, an operation, a descriptor, a fault, an environment
//! event, a chunk of decisions — or makes the configuration smaller (queue length, devices).
//! The decisions are replayed by label, so removing one thing leaves the rest meaning what it
//! meant. A candidate is kept when it still fails with the same `class:function:cause` on the
//! same variant, and is strictly smaller; the search ends when no candidate is kept.

use super::input;
use super::{OracleArgs, Usage};
use crate::sim::choice::Step;
use crate::vtd::encode;
use crate::vtd::label::{parse_step, Act};
use crate::vtd::ops::{Inv, Op};
use crate::vtd::scenario::{Runner, Scenario, ScenarioFile, Source};
use crate::vtd::variants::Variant;
use std::path::{Path, PathBuf};

/// Most candidate runs one minimization tries.
const MAX_TRIES: usize = 50_000;

/// A reproducer being shrunk: the scenario and its labelled decisions.
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
    fn size(&self) -> (usize, usize, usize) {
        let ops: usize = self
            .sc
            .cpus
            .iter()
            .flat_map(|p| &p.ops)
            .map(|o| match o {
                Op::Flush(v) => 1 + v.len() + v.iter().filter(|x| **x != Inv::Iotlb).count(),
                _ => 1,
            })
            .sum();
        let things = self.sc.cpus.len() + ops + self.sc.faults.len() + self.sc.env.len();
        let cfg = self.sc.config.qlen as usize
            + self.sc.config.ndevs as usize
            + usize::from(self.sc.config.any_count);
        (things, self.log.len() + self.heal_at, cfg)
    }
}

/// Runs candidates and remembers the signature they must keep.
pub struct Shrinker {
    r: Runner,
    var: &'static Variant,
    want: String,
    /// Candidate runs so far.
    pub tries: usize,
}

fn relabel_cpu(s: Step<Act>, gone: u8) -> Option<Step<Act>> {
    let f = |c: u8| (c != gone).then(|| if c > gone { c - 1 } else { c });
    match s {
        Step::Cpu(c) => f(c).map(Step::Cpu),
        Step::Model(Act::Irq(c)) => f(c).map(|c| Step::Model(Act::Irq(c))),
        x => Some(x),
    }
}

/// Removes log entries matching `drop`, keeping `heal_at` on the same decision.
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

/// Every one-step reduction of `c`, most promising first.
fn candidates(c: &Cand) -> Vec<Cand> {
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
            if let Op::Flush(invs) = &p.ops[j] {
                for k in 0..invs.len() {
                    let mut t = c.clone();
                    let Op::Flush(w) = &mut t.sc.cpus[i].ops[j] else {
                        unreachable!("same op as in the source")
                    };
                    if w[k] == Inv::Iotlb {
                        w.remove(k);
                    } else {
                        // A plain IOTLB flush is the simplest descriptor there is.
                        w[k] = Inv::Iotlb;
                    }
                    v.push(t);
                }
            }
        }
    }
    decision_chunks(c, &mut v);
    let cfg = c.sc.config;
    if cfg.qlen > 8 {
        let mut t = c.clone();
        t.sc.config.qlen = (cfg.qlen / 2).max(8);
        v.push(t);
    }
    if cfg.ndevs > 1 {
        let mut t = c.clone();
        t.sc.config.ndevs -= 1;
        v.push(t);
    }
    if cfg.any_count {
        let mut t = c.clone();
        t.sc.config.any_count = false;
        v.push(t);
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

    /// Runs `c`; returns its normalized form (the decisions actually taken) if it still fails
    /// with the wanted signature.
    pub fn test(&mut self, c: &Cand) -> Option<Cand> {
        if c.sc.validate().is_err() || self.tries >= MAX_TRIES {
            return None;
        }
        self.tries += 1;
        let v = self
            .r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        let x = v.violation?;
        if x.signature() != self.want {
            return None;
        }
        let (labels, heal_at) = self.r.decisions();
        let log = labels.iter().filter_map(|l| parse_step(l)).collect();
        Some(Cand {
            sc: c.sc.clone(),
            log,
            heal_at,
        })
    }

    /// Shrinks `c` (which must fail with the wanted signature) until no candidate helps.
    pub fn shrink(&mut self, mut c: Cand) -> Cand {
        'outer: while self.tries < MAX_TRIES {
            for t in candidates(&c) {
                if let Some(n) = self.test(&t) {
                    // Keep the recorded form only when it is smaller; the candidate itself
                    // already reproduced, so it is the fallback.
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

    /// The raw form of `c`: encoded head plus the decision bytes taken before healing, if the
    /// raw decoder can express the scenario and the raw run keeps the signature.
    pub fn raw(&mut self, c: &Cand) -> Result<Vec<u8>, String> {
        self.r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        let heal_at = self.r.decisions().1;
        let picks = encode::pick_bytes(&self.r.picks()[..heal_at])?;
        let raw = encode::encode(&c.sc, &picks)?;
        let v = self.r.run(&c.sc, self.var, Source::Bytes(&picks));
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

/// Output paths `<out>.json` and `<out>.raw` (default `out`: FILE's stem + `.min`).
pub fn out_paths(file: &Path, out: Option<&Path>) -> (PathBuf, PathBuf) {
    let base = match out {
        Some(o) => o.to_path_buf(),
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "repro".into());
            file.with_file_name(format!("{stem}.min"))
        }
    };
    let s = base.to_string_lossy();
    (
        PathBuf::from(format!("{s}.json")),
        PathBuf::from(format!("{s}.raw")),
    )
}

/// `iommufuzz minimize FILE`.
pub fn minimize(
    file: &Path,
    variant: Option<&str>,
    any: bool,
    model: Option<&str>,
    out: Option<&Path>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    super::model_flag(model)?;
    if super::smmu::model_of(file, model)? == super::smmu::MODEL {
        if any {
            return Err(Usage(format!(
                "{}: --any is for vtd_any inputs, not smmuv3 ones",
                file.display()
            )));
        }
        let (json, raw) = out_paths(file, out);
        return super::smmu_campaign::minimize(file, variant, &json, &raw, o);
    }
    let l = input::load_as(file, any)?;
    let var = input::variant(variant, l.variant.as_deref())?;
    let mut r = super::runner(o)?;
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
    let (json, raw) = out_paths(file, out);
    let f = ScenarioFile {
        model: "vtd".into(),
        variant: var.name.into(),
        scenario: min.sc.clone(),
        decisions: min.log.iter().map(crate::vtd::label::step_label).collect(),
        heal_at: min.heal_at,
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| Usage(e.to_string()))?;
    let io = |p: &Path, e: std::io::Error| Usage(format!("{}: {e}", p.display()));
    std::fs::write(&json, text + "\n").map_err(|e| io(&json, e))?;
    println!(
        "minimized {want} on {}: size {} with {} decisions -> {} with {} ({} runs)",
        var.name,
        before.0,
        before.1,
        min.size().0,
        min.log.len(),
        s.tries
    );
    println!("  wrote {}", json.display());
    match s.raw(&min) {
        Ok(mut bytes) => {
            if any {
                bytes.insert(0, crate::fuzz::any_byte(var));
            }
            std::fs::write(&raw, &bytes).map_err(|e| io(&raw, e))?;
            println!("  wrote {} ({} bytes)", raw.display(), bytes.len());
        }
        Err(e) => println!("  no raw form: {e}"),
    }
    Ok(0)
}
