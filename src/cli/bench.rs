//! `iommufuzz bench`: executions per second on the standard workload (2 CPUs, L=16, three
//! submissions per CPU with mixed counts, faults enabled), one core.

use super::Usage;
use crate::vtd::scenario::Source;
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
}

/// `iommufuzz bench`.
pub fn bench(a: &Args) -> Result<i32, Usage> {
    if a.runs == 0 {
        return Err(Usage("--runs must be at least 1".into()));
    }
    if a.model != "vtd" {
        return Err(Usage(format!(
            "model {:?} is not supported (known: vtd, smmuv3)",
            a.model
        )));
    }
    let inputs = crate::bench_inputs(256);
    let var = crate::vtd::variants::newest();
    let mut r = crate::Runner::default();
    let mut steps = 0u64;
    let mut viol = 0u64;
    let t = Instant::now();
    for i in 0..a.runs {
        let sc = &inputs[(i % inputs.len() as u64) as usize];
        let v = r.run(sc, var, Source::Bytes(&sc.decisions));
        steps += v.steps;
        viol += u64::from(v.violation.is_some());
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "bench vtd {}: {} runs in {:.3} s = {:.0} exec/s ({:.0} steps/run, {} with a violation)",
        var.name,
        a.runs,
        s,
        a.runs as f64 / s,
        steps as f64 / a.runs as f64,
        viol
    );
    Ok(0)
}
