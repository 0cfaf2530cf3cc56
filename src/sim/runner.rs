//! The runner: executes one scenario of any model on one of its variants, reusing the world and
//! the executor's buffers across executions.

use super::cell::{Shared, Shr};
use super::choice::{Bytes, Decide, Replay, Step};
use super::cpu::Cx;
use super::executor::{self, End, Exec, Limits, RunOpts};
use super::model::{Act, Model, ScenarioOf};
use super::outcome::{Source, Verdict};
use super::scenario::{Program, ScenarioFile};
use super::MAX_CPUS;
use crate::oracle::{OracleMask, Suppressions};
use std::pin::pin;

/// Runs scenarios of model `M`, reusing its buffers across executions.
pub struct Runner<M: Model> {
    cell: Shared<M::World>,
    ex: Exec<Act<M>>,
    /// Bounds of each execution.
    pub limits: Limits,
    /// Oracle classes that are on.
    pub mask: OracleMask,
    /// Signatures that do not stop a run.
    pub sup: Suppressions,
}

impl<M: Model> Default for Runner<M> {
    fn default() -> Self {
        Runner {
            cell: Shared::new(M::world()),
            ex: Exec::default(),
            limits: Limits::default(),
            mask: OracleMask::default(),
            sup: M::default_suppressions(),
        }
    }
}

impl<M: Model> Runner<M> {
    /// Runs `sc` on `v` with decisions from `src`.
    pub fn run(
        &mut self,
        sc: &ScenarioOf<M>,
        v: &'static M::Variant,
        src: Source<Act<M>>,
    ) -> Verdict {
        // Each source gets its own monomorphic executor loop (no dynamic dispatch per step).
        match src {
            Source::Bytes(b) => self.run_with(sc, v, &mut Bytes::new(b)),
            Source::Replay(log, h) => self.run_with(sc, v, &mut Replay::new(log, h)),
        }
    }

    /// Runs `sc` on `v` with decisions from any source (a search, PCT), monomorphised for it.
    pub fn run_with<D: Decide<Act<M>>>(
        &mut self,
        sc: &ScenarioOf<M>,
        v: &'static M::Variant,
        src: &mut D,
    ) -> Verdict {
        let ncpus = sc.cpus.len().clamp(1, MAX_CPUS) as u8;
        M::start(&mut self.cell.borrow_mut(), sc, v, ncpus);
        let end = self.exec(sc, src);
        let w = self.cell.borrow();
        debug_assert!(end == End::Violation || self.ex.findings.violation.is_none());
        Verdict::of(&mut self.ex, M::trace_hash(&w))
    }

    fn exec<D: Decide<Act<M>>>(&mut self, sc: &ScenarioOf<M>, src: &mut D) -> End {
        let empty = Program::default();
        let p = |i: usize| sc.cpus.get(i).unwrap_or(&empty);
        let cell = &self.cell;
        let f0 = pin!(M::cpu_main(Cx::new(0, cell), p(0)));
        let f1 = pin!(M::cpu_main(Cx::new(1, cell), p(1)));
        let f2 = pin!(M::cpu_main(Cx::new(2, cell), p(2)));
        let f3 = pin!(M::cpu_main(Cx::new(3, cell), p(3)));
        let mut futs = [f0, f1, f2, f3];
        let o = RunOpts {
            limits: self.limits,
            mask: self.mask,
            sup: &self.sup,
        };
        executor::run(cell, &mut futs, src, &o, &mut self.ex)
    }

    /// Records the trace of the runs that follow (the default) or not. Search loops switch it
    /// off: verdict, decision log and signatures stay the same, the trace stays empty and its
    /// hash covers nothing; a run whose report is wanted is run again with it on.
    pub fn set_tracing(&mut self, on: bool) {
        M::set_tracing(&mut self.cell.borrow_mut(), on);
    }

    /// The world after the last run (trace, queue state).
    pub fn world(&self) -> Shr<'_, M::World> {
        self.cell.borrow()
    }

    /// The decisions of the last run and where healing began.
    pub fn log(&self) -> (&[Step<Act<M>>], usize) {
        (&self.ex.log, self.ex.heal_at.unwrap_or(self.ex.log.len()))
    }

    /// The labelled decisions of the last run and where healing began.
    pub fn decisions(&self) -> (Vec<String>, usize) {
        let (log, heal_at) = self.log();
        (log.iter().map(M::step_label).collect(), heal_at)
    }

    /// Index chosen at each logged decision of the last run (see `Exec::picks`).
    pub fn picks(&self) -> &[u16] {
        &self.ex.picks
    }

    /// Converts the last run into a JSON scenario file.
    pub fn to_file(&self, sc: &ScenarioOf<M>, v: &M::Variant) -> ScenarioFile<M> {
        let (decisions, heal_at) = self.decisions();
        ScenarioFile {
            model: M::NAME.into(),
            variant: super::model::Variant::name(v).into(),
            scenario: sc.clone(),
            decisions,
            heal_at,
        }
    }
}
