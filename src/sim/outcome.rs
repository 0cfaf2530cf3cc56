//! What every model's runner takes and gives back: where decisions come from, and the verdict
//! of one execution. Domain-agnostic, so the models share one definition.

use super::choice::Step;
use super::executor::Exec;
use crate::oracle::Violation;

/// Where decisions come from.
pub enum Source<'a, A> {
    /// Raw bytes, then healing.
    Bytes(&'a [u8]),
    /// A labelled log, healing after `heal_at`.
    Replay(Vec<Step<A>>, usize),
}

/// What one run found.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The violation that stopped the run.
    pub violation: Option<Violation>,
    /// Suppressed violations.
    pub suppressed: Vec<Violation>,
    /// Steps taken.
    pub steps: u64,
    /// Virtual time at the end (ns).
    pub end_time: u64,
    /// Hash of the whole trace (mixed with the step count).
    pub trace_hash: u64,
}

impl Verdict {
    /// The verdict of the execution whose results `ex` holds and whose trace hashed to `trace`.
    pub fn of<A>(ex: &mut Exec<A>, trace: u64) -> Self {
        // Moved out, not copied: the next run clears the findings anyway.
        Verdict {
            violation: ex.findings.violation.take(),
            suppressed: std::mem::take(&mut ex.findings.suppressed),
            steps: ex.steps,
            end_time: ex.end_time,
            trace_hash: trace ^ ex.steps,
        }
    }
}
