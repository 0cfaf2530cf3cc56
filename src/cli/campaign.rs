//! What the campaign commands (corpus, minimize, triage, explore) need from a model beyond
//! running it: how output names it, what the minimizer may make smaller, which steps decide a
//! bug, the seeds of its corpus and the inverse of its raw decoder.

use super::corpus::Spec;
use super::minimize::{Cand, Shrinker};
use crate::sim::model::{self, Act, Model, ScenarioOf};
use std::fs::Metadata;

/// A model the campaign commands run.
pub trait Campaign: Model {
    /// Whether lines and file names start with the model's name. VT-d, the first model, goes
    /// unnamed, so its outputs read as they always did.
    const NAMED: bool;

    /// Minimizer weight of an operation: 1, plus what could still be made simpler in it.
    fn op_weight(o: &Self::Op) -> usize;
    /// Things the configuration lists (devices the minimizer may remove).
    fn config_things(c: &Self::Config) -> usize;
    /// Minimizer weight of the configuration: smaller queues, fewer features.
    fn config_weight(c: &Self::Config) -> usize;
    /// `a` with the CPU it names renumbered by `f`; `None` if `f` drops that CPU.
    fn renumber_cpu(a: Act<Self>, f: impl Fn(u8) -> Option<u8>) -> Option<Act<Self>>;
    /// The action that injects a listed fault.
    fn inject(f: Self::Fault) -> Act<Self>;
    /// The action that fires a listed environment event.
    fn fire(e: Self::Env) -> Act<Self>;
    /// Simpler forms of one operation, to try in its place.
    fn simpler_ops(o: &Self::Op) -> Vec<Self::Op>;
    /// Candidates with a smaller configuration.
    fn smaller_configs(c: &Cand<Self>, out: &mut Vec<Cand<Self>>);
    /// `c` moved into the ranges raw inputs can express, if a moved form keeps the signature.
    fn rawify(_s: &mut Shrinker<Self>, c: Cand<Self>) -> Cand<Self> {
        c
    }
    /// The scenario a raw form is checked on: by default what its bytes decode to.
    fn raw_replay(_sc: &ScenarioOf<Self>, raw: &[u8], _picks: &[u8]) -> ScenarioOf<Self> {
        model::decode::<Self>(raw)
    }
    /// Sets the model's eager-fetch setting in `c` (the hardware fetches everything it can
    /// before an ATS request times out; `explore --eager-fetch`). False when the model has none.
    fn eager_fetch(_c: &mut Self::Config) -> bool {
        false
    }
    /// Bytes of the head that decode to `sc`, or why raw inputs cannot express it.
    fn encode_head(sc: &ScenarioOf<Self>) -> Result<Vec<u8>, String>;

    /// True for a step that can set a bug off (an injected event, a timer, an interrupt): triage
    /// names a bug by the last one.
    fn decisive(a: &Act<Self>) -> bool;

    /// The seeds of the corpus, in a fixed order.
    fn seeds() -> Vec<Spec<Self>>;
    /// Decision streams tried per seed before settling for one that only passes.
    const SEED_TRIES: usize;
    /// Decision bytes of a seed.
    const SEED_DECISIONS: usize;
    /// The comment lines that open the dictionary.
    const DICT_HEADER: &'static str;

    /// The standard workload `bench` times: `n` decision streams from a fixed seed.
    fn bench_inputs(n: usize) -> Vec<ScenarioOf<Self>>;

    /// Whether a reproducer's bytes are read as a JSON scenario file rather than as raw input:
    /// by default when they start like JSON.
    fn is_json(bytes: &[u8]) -> bool {
        super::input::looks_like_json(bytes)
    }
    /// Why a path cannot be a reproducer (a directory, too large), in the words its loader has
    /// always used; `None` when it can.
    fn unfit(meta: &Metadata) -> Option<String> {
        let max = super::input::MAX_INPUT;
        if meta.is_dir() {
            Some("is a directory, expected a file".into())
        } else if meta.len() > max {
            Some(format!(
                "{} bytes is larger than the {max}-byte limit",
                meta.len()
            ))
        } else {
            None
        }
    }
}

/// The model's name followed by `sep` where its outputs name it, else nothing.
pub fn tag<M: Campaign>(sep: &str) -> String {
    if M::NAMED {
        format!("{}{sep}", M::NAME)
    } else {
        String::new()
    }
}

/// Writes `text` to stdout (see [`super::out`]).
pub fn say<M: Campaign>(text: &str) {
    super::out::out(text);
}

/// Head bytes followed by `decisions`: a complete raw input.
pub fn encode<M: Campaign>(sc: &ScenarioOf<M>, decisions: &[u8]) -> Result<Vec<u8>, String> {
    let mut v = M::encode_head(sc)?;
    v.extend_from_slice(decisions);
    Ok(v)
}
