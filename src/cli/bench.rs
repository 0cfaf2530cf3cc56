//! `iommufuzz bench`: executions per second on a model's standard workload (VT-d: 2 CPUs,
//! L=16, three submissions per CPU with mixed counts, faults enabled), one core.

use super::campaign::{say, Campaign};
use super::Usage;
use crate::sim::model::{self, Model as _, Variant as _};
use crate::sim::outcome::Source;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::time::Instant;

/// Options of `bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Executions to time.
    #[arg(long, default_value_t = 200_000)]
    pub runs: u64,
    /// Model whose standard workload runs: vtd or smmuv3.
    #[arg(long, default_value = "vtd")]
    pub model: String,
    /// Record every run's trace, as replay does; by default runs are untraced, as in the fuzz
    /// targets and `explore`.
    #[arg(long)]
    pub traced: bool,
}

/// `iommufuzz bench`.
pub fn bench(a: &Args) -> Result<i32, Usage> {
    // Zero runs has no rate to report (it would print NaN): bad usage, for every model.
    if a.runs == 0 {
        return Err(Usage("--runs must be at least 1".into()));
    }
    match a.model.as_str() {
        VtdModel::NAME => Ok(run::<VtdModel>(a.runs, a.traced)),
        Smmuv3Model::NAME => Ok(run::<Smmuv3Model>(a.runs, a.traced)),
        m => Err(Usage(format!(
            "model {m:?} is not supported (known: vtd, smmuv3)"
        ))),
    }
}

/// Times `runs` executions of `M`'s standard workload on its upstream variant and says how
/// fast they went. Generic, so each model's loop is as monomorphic as its fuzz target's.
fn run<M: Campaign>(runs: u64, traced: bool) -> i32 {
    let inputs = M::bench_inputs(256);
    let var = model::newest::<M>();
    let mut r = Runner::<M>::default();
    r.set_tracing(traced);
    let (mut steps, mut viol) = (0u64, 0u64);
    let t = Instant::now();
    for i in 0..runs {
        let sc = &inputs[(i % inputs.len() as u64) as usize];
        let v = r.run(sc, var, Source::Bytes(&sc.decisions));
        steps += v.steps;
        viol += u64::from(v.violation.is_some());
    }
    let s = t.elapsed().as_secs_f64();
    say::<M>(&format!(
        "bench {} {} ({}): {runs} runs in {s:.3} s = {:.0} exec/s ({:.0} steps/run, {viol} with a violation)\n",
        M::NAME,
        var.name(),
        if traced { "traced" } else { "untraced" },
        runs as f64 / s,
        steps as f64 / runs as f64
    ));
    0
}
