//! `iommufuzz minimize FILE`: shrinks a reproducer by meaning while the same violation signature
//! persists, then writes it as a JSON scenario file and as raw bytes every engine replays.
//!
//! Byte-level minimizers (`cargo fuzz tmin`, `afl-tmin`) cut bytes; here each candidate drops
//! something a reader would name — a CPU, an operation, a fault, an environment event, a chunk
//! of decisions — or makes an operation or the configuration simpler (each model says how, see
//! [`Campaign`]). The decisions are replayed by label, so removing one thing leaves the rest
//! meaning what it meant. A candidate is kept when it still fails with the same
//! `class:function:cause` on the same variant, and is strictly smaller; the search ends when no
//! candidate is kept.

use super::campaign::{self, say, tag, Campaign};
use super::input::{self, Loaded};
use super::{OracleArgs, Usage};
use crate::sim::choice::{pick_bytes, Step};
use crate::sim::model::{Act, Model as _, ScenarioOf, Variant as _};
use crate::sim::outcome::Source;
use crate::sim::runner::Runner;
use crate::sim::scenario::ScenarioFile;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::path::{Path, PathBuf};

/// Most candidate runs one minimization tries.
const MAX_TRIES: usize = 50_000;

/// A reproducer being shrunk: the scenario and its labelled decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Cand<M: Campaign> {
    /// The scenario.
    pub sc: ScenarioOf<M>,
    /// Labelled decisions.
    pub log: Vec<Step<Act<M>>>,
    /// Decisions before the healing phase.
    pub heal_at: usize,
}

impl<M: Campaign> Cand<M> {
    /// Size order: fewer things first, then fewer decisions, then a smaller configuration.
    pub fn size(&self) -> (usize, usize, usize) {
        let sc = &self.sc;
        let ops: usize = sc.cpus.iter().flat_map(|p| &p.ops).map(M::op_weight).sum();
        let things =
            sc.cpus.len() + ops + sc.faults.len() + sc.env.len() + M::config_things(&sc.config);
        (
            things,
            self.log.len() + self.heal_at,
            M::config_weight(&sc.config),
        )
    }

    /// The last run of `r` on `sc`, as a candidate.
    fn recorded(r: &Runner<M>, sc: &ScenarioOf<M>) -> Self {
        // Through the labels, as a scenario file would carry them.
        let (labels, heal_at) = r.decisions();
        Cand {
            sc: sc.clone(),
            log: labels.iter().filter_map(|l| M::parse_step(l)).collect(),
            heal_at,
        }
    }
}

/// Runs candidates and remembers the signature they must keep.
pub struct Shrinker<M: Campaign> {
    r: Runner<M>,
    var: &'static M::Variant,
    want: String,
    /// Candidate runs so far.
    pub tries: usize,
}

fn relabel_cpu<M: Campaign>(s: Step<Act<M>>, gone: u8) -> Option<Step<Act<M>>> {
    let f = |c: u8| (c != gone).then(|| if c > gone { c - 1 } else { c });
    match s {
        Step::Cpu(c) => f(c).map(Step::Cpu),
        Step::Model(a) => M::renumber_cpu(a, f).map(Step::Model),
    }
}

/// Keeps the log entries `keep` returns (possibly changed), keeping `heal_at` on the same
/// decision.
pub fn filter_log<M: Campaign>(
    c: &Cand<M>,
    mut keep: impl FnMut(usize, Step<Act<M>>) -> Option<Step<Act<M>>>,
) -> Cand<M> {
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

/// Every one-step reduction of `c`, most promising first. Made one at a time: a run that
/// ended at the step budget logs up to 200,000 decisions, and the ddmin chunks of such a log
/// would not fit in memory all at once.
pub fn candidates<M: Campaign>(c: &Cand<M>) -> impl Iterator<Item = Cand<M>> + '_ {
    let chunks = chunk_ranges(c.log.len())
        .map(move |(s, e)| filter_log(c, |i, st| (i < s || i >= e).then_some(st)));
    let mut configs = Vec::new();
    M::smaller_configs(c, &mut configs);
    structural(c).into_iter().chain(chunks).chain(configs)
}

/// The reductions that drop or simplify a named thing: the healing decisions, a CPU, a fault,
/// an environment event, an operation.
fn structural<M: Campaign>(c: &Cand<M>) -> Vec<Cand<M>> {
    let mut v = Vec::new();
    if c.log.len() > c.heal_at {
        let mut t = c.clone();
        t.log.truncate(c.heal_at);
        v.push(t);
    }
    for i in (0..c.sc.cpus.len()).rev().filter(|_| c.sc.cpus.len() > 1) {
        let mut t = filter_log(c, |_, s| relabel_cpu::<M>(s, i as u8));
        t.sc.cpus.remove(i);
        v.push(t);
    }
    for (f, &gone) in c.sc.faults.iter().enumerate() {
        let mut t = filter_log(c, |_, s| (s != Step::Model(M::inject(gone))).then_some(s));
        t.sc.faults.remove(f);
        v.push(t);
    }
    for (e, &gone) in c.sc.env.iter().enumerate() {
        let mut t = filter_log(c, |_, s| (s != Step::Model(M::fire(gone))).then_some(s));
        t.sc.env.remove(e);
        v.push(t);
    }
    for (i, p) in c.sc.cpus.iter().enumerate() {
        for (j, o) in p.ops.iter().enumerate() {
            let mut t = c.clone();
            t.sc.cpus[i].ops.remove(j);
            v.push(t);
            for s in M::simpler_ops(o) {
                let mut t = c.clone();
                t.sc.cpus[i].ops[j] = s;
                v.push(t);
            }
        }
    }
    v
}

/// The decision ranges ddmin removes from a log of `n`: halves, then quarters, down to single
/// decisions.
fn chunk_ranges(n: usize) -> impl Iterator<Item = (usize, usize)> {
    // Chunk sizes n/2, n/4, ..., 1 (rounded up); none when the log is empty.
    let sizes = std::iter::successors((n > 0).then(|| n.div_ceil(2)), |&k| {
        (k > 1).then(|| k.div_ceil(2))
    });
    sizes.flat_map(move |k| (0..n).step_by(k).map(move |s| (s, (s + k).min(n))))
}

impl<M: Campaign> Shrinker<M> {
    /// A shrinker that keeps `want` (a `class:function:cause` signature) on `var`.
    pub fn new(r: Runner<M>, var: &'static M::Variant, want: String) -> Self {
        Shrinker {
            r,
            var,
            want,
            tries: 0,
        }
    }

    /// Runs `c`; returns its normalized form (the decisions actually taken) if it still fails
    /// with the wanted signature.
    pub fn test(&mut self, c: &Cand<M>) -> Option<Cand<M>> {
        if M::validate(&c.sc).is_err() || self.tries >= MAX_TRIES {
            return None;
        }
        self.tries += 1;
        let v = self
            .r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        if v.violation?.signature() != self.want {
            return None;
        }
        Some(Cand::recorded(&self.r, &c.sc))
    }

    /// Shrinks `c` (which must fail with the wanted signature) until no candidate helps.
    pub fn shrink(&mut self, mut c: Cand<M>) -> Cand<M> {
        while self.tries < MAX_TRIES {
            match self.first_smaller(&c) {
                Some(best) => c = best,
                None => break,
            }
        }
        c
    }

    /// The first candidate of `c` that still fails as wanted and is smaller than `c`.
    fn first_smaller(&mut self, c: &Cand<M>) -> Option<Cand<M>> {
        for t in candidates(c) {
            if let Some(n) = self.test(&t) {
                // Keep the recorded form only when it is smaller; the candidate itself
                // already reproduced, so it is the fallback.
                let best = if n.size() <= t.size() { n } else { t };
                if best.size() < c.size() {
                    return Some(best);
                }
            }
        }
        None
    }

    /// The raw form of `c`: encoded head plus the decision bytes taken before healing, if the
    /// raw decoder can express the scenario and the raw run keeps the signature.
    pub fn raw(&mut self, c: &Cand<M>) -> Result<Vec<u8>, String> {
        self.r
            .run(&c.sc, self.var, Source::Replay(c.log.clone(), c.heal_at));
        let heal_at = self.r.log().1;
        let picks = pick_bytes(&self.r.picks()[..heal_at])?;
        let raw = campaign::encode::<M>(&c.sc, &picks)?;
        let sc = M::raw_replay(&c.sc, &raw, &picks);
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
    let (json, raw) = out_paths(file, out);
    if input::model_of(file, model)? == Smmuv3Model::NAME {
        if any {
            return Err(Usage(format!(
                "{}: --any is for vtd_any inputs, not smmuv3 ones",
                file.display()
            )));
        }
        let l = input::load::<Smmuv3Model>(file)?;
        let var = input::variant::<Smmuv3Model>(variant, l.variant.as_deref())?;
        let r = super::runner_for::<Smmuv3Model>(o)?;
        return shrink_file::<Smmuv3Model>(file, &l, var, r, (&json, &raw), None);
    }
    let l = input::load_as::<VtdModel>(file, any)?;
    let var = input::variant::<VtdModel>(variant, l.variant.as_deref())?;
    let r = super::runner_for::<VtdModel>(o)?;
    let any_byte = any.then(|| crate::fuzz::any_byte::<VtdModel>(var));
    shrink_file::<VtdModel>(file, &l, var, r, (&json, &raw), any_byte)
}

/// Shrinks the reproducer `l` read from `file` on `var`, writes `out` (.json, .raw), and says
/// what it did. With `any_byte`, the raw form starts with that variant byte.
fn shrink_file<M: Campaign>(
    file: &Path,
    l: &Loaded<M>,
    var: &'static M::Variant,
    mut r: Runner<M>,
    (json, raw): (&Path, &Path),
    any_byte: Option<u8>,
) -> Result<i32, Usage> {
    let v = r.run(&l.scenario, var, l.source());
    let Some(x) = v.violation else {
        return Err(Usage(format!(
            "{}: passes on {}, nothing to minimize",
            file.display(),
            var.name()
        )));
    };
    let want = x.signature();
    let start = Cand::recorded(&r, &l.scenario);
    let mut s = Shrinker::new(r, var, want.clone());
    let before = (start.size().0, start.log.len());
    let min = s.shrink(start);
    let min = M::rawify(&mut s, min);
    let f: ScenarioFile<M> = ScenarioFile {
        model: M::NAME.into(),
        variant: var.name().into(),
        scenario: min.sc.clone(),
        decisions: min.log.iter().map(M::step_label).collect(),
        heal_at: min.heal_at,
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| Usage(e.to_string()))?;
    let io = |p: &Path, e: std::io::Error| Usage(format!("{}: {e}", p.display()));
    std::fs::write(json, text + "\n").map_err(|e| io(json, e))?;
    say::<M>(&format!(
        "minimized {want} on {}{}: size {} with {} decisions -> {} with {} ({} runs)\n  wrote {}\n",
        tag::<M>(" "),
        var.name(),
        before.0,
        before.1,
        min.size().0,
        min.log.len(),
        s.tries,
        json.display()
    ));
    match s.raw(&min) {
        Ok(mut bytes) => {
            if let Some(b) = any_byte {
                bytes.insert(0, b);
            }
            std::fs::write(raw, &bytes).map_err(|e| io(raw, e))?;
            say::<M>(&format!(
                "  wrote {} ({} bytes)\n",
                raw.display(),
                bytes.len()
            ));
        }
        Err(e) => say::<M>(&format!("  no raw form: {e}\n")),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::decode;

    #[test]
    fn chunk_ranges_halve_down_to_single_decisions() {
        assert_eq!(chunk_ranges(0).count(), 0);
        let r: Vec<_> = chunk_ranges(5).collect();
        assert_eq!(
            r,
            [
                (0, 3),
                (3, 5),
                (0, 2),
                (2, 4),
                (4, 5),
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 4),
                (4, 5)
            ]
        );
    }

    /// A run that ended at the step budget logs 200,000 decisions: its candidates are made one at
    /// a time (all of its ddmin chunks at once would be 400,000 copies of the log).
    #[test]
    fn candidates_of_a_step_budget_log_come_one_at_a_time() {
        let sc = decode::<VtdModel>(&[3, 1, 4, 1, 5, 9, 2, 6]);
        let n = 200_000;
        let c = Cand::<VtdModel> {
            sc,
            log: vec![Step::Cpu(0); n],
            heal_at: 10,
        };
        let mut it = candidates(&c);
        let first = it.next().expect("the healing decisions go first");
        assert_eq!(first.log.len(), 10);
        let halves: Vec<_> = it
            .by_ref()
            .filter(|t| t.log.len() == n / 2)
            .take(2)
            .collect();
        assert_eq!(halves.len(), 2, "the two halves of the log");
    }
}
