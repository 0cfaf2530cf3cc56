//! The shape every model's scenario shares: a configuration, one program per CPU, the faults and
//! environment events the decisions may fire, and the raw decision bytes; plus the JSON file a
//! run is saved as. Only the element types differ between models, so the runner, the minimizer
//! and the seed corpus handle CPUs, faults and events once for all of them.

use super::choice::Step;
use super::model::{Act, Model, ScenarioOf};
use serde::{Deserialize, Serialize};

/// A CPU's program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program<O> {
    /// Operations in order.
    pub ops: Vec<O>,
}

impl<O> Default for Program<O> {
    fn default() -> Self {
        Program { ops: Vec::new() }
    }
}

/// A scenario: configuration, CPU programs, listed faults and events, and decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario<C, O, F, E> {
    /// Queue, device and client configuration.
    pub config: C,
    /// One program per CPU (1 to 4).
    pub cpus: Vec<Program<O>>,
    /// Faults the decisions may inject, each once.
    pub faults: Vec<F>,
    /// Environment events the decisions may fire, each once.
    pub env: Vec<E>,
    /// Raw decision bytes (raw inputs only).
    #[serde(skip)]
    pub decisions: Vec<u8>,
}

impl<C, O, F, E> Scenario<C, O, F, E> {
    /// A scenario with no decisions, each CPU given by its operations.
    pub fn of(config: C, cpus: Vec<Vec<O>>, faults: Vec<F>, env: Vec<E>) -> Self {
        Scenario {
            config,
            cpus: cpus.into_iter().map(|ops| Program { ops }).collect(),
            faults,
            env,
            decisions: Vec::new(),
        }
    }
}

/// Copies the listed faults or events into a world's fixed slots; the rest stay empty.
pub fn fill<T: Copy>(slots: &mut [Option<T>], listed: &[T]) {
    for (slot, x) in slots.iter_mut().zip(listed) {
        *slot = Some(*x);
    }
}

/// Bit i set when `slots[i]` lists something, is not yet used (bit i of `used`), and no
/// earlier unused slot lists the same: the listed faults or events a world offers as steps (two
/// equal listings are one action until the first fires).
pub fn offers<T: PartialEq>(slots: &[Option<T>], used: u8) -> u8 {
    assert!(slots.len() <= 8, "a mask has 8 bits");
    let free = |k: usize| used >> k & 1 == 0;
    let mut mask = 0;
    for (i, x) in slots.iter().enumerate() {
        if x.is_some() && free(i) && !(0..i).any(|j| free(j) && slots[j] == *x) {
            mask |= 1 << i;
        }
    }
    mask
}

/// The JSON scenario file: a scenario plus model, variant and labelled decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ScenarioFile<M: Model> {
    /// The model's name (`vtd`, `smmuv3`).
    pub model: String,
    /// Variant the decisions were recorded on.
    pub variant: String,
    /// The scenario.
    #[serde(flatten)]
    pub scenario: ScenarioOf<M>,
    /// Labelled decisions, replayed by meaning.
    pub decisions: Vec<String>,
    /// Decisions taken before the healing phase.
    pub heal_at: usize,
}

impl<M: Model> ScenarioFile<M> {
    /// Parses the labelled decisions.
    pub fn steps(&self) -> Result<Vec<Step<Act<M>>>, String> {
        self.decisions
            .iter()
            .map(|s| M::parse_step(s).ok_or_else(|| format!("unknown decision label {s:?}")))
            .collect()
    }
}
