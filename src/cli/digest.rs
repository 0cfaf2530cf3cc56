//! `iommufuzz digest`: one hash per variant of everything the runs of a fixed sample decide
//! (verdict, violation and suppressed findings with their messages and times, steps, virtual
//! time, trace). Run it before and after a change meant to leave behaviour alone (a speed-up,
//! a refactoring) and compare: equal lines mean every sampled run took the same course.

use super::campaign::{say, Campaign};
use super::Usage;
use crate::oracle::Violation;
use crate::sim::model::{self, Variant as _};
use crate::sim::outcome::{Source, Verdict};
use crate::sim::runner::Runner;
use crate::sim::trace::Mix;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::hash::Hasher;

/// Options of `digest`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Seeded random raw inputs, on top of the 64 of each model's standard workload.
    #[arg(long, default_value_t = 3000)]
    pub inputs: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Longest random input, in bytes (the decoder's head plus decisions).
const MAX_LEN: usize = 200;

/// `iommufuzz digest`: both models, every variant.
pub fn digest(a: &Args) -> Result<i32, Usage> {
    if a.inputs > 1_000_000 {
        return Err(Usage("--inputs must be at most 1000000".into()));
    }
    run::<VtdModel>(a);
    run::<Smmuv3Model>(a);
    Ok(0)
}

/// One line per variant of `M`: its digest and how many runs ended in a violation.
fn run<M: Campaign>(a: &Args) {
    let mut rng = StdRng::seed_from_u64(a.seed);
    let mut inputs = M::bench_inputs(64);
    let mut buf = [0u8; MAX_LEN];
    for _ in 0..a.inputs {
        let len = rng.random_range(1..=MAX_LEN);
        rng.fill_bytes(&mut buf[..len]);
        inputs.push(model::decode::<M>(&buf[..len]));
    }
    let mut r = Runner::<M>::default();
    for v in M::variants() {
        let mut h = Mix(Mix::SEED);
        let mut failed = 0usize;
        for sc in &inputs {
            let x = r.run(sc, v, Source::Bytes(&sc.decisions));
            failed += usize::from(x.violation.is_some());
            mix_verdict(&mut h, &x);
        }
        say::<M>(&format!(
            "digest {} {:<18} {:016x} ({} runs, {failed} with a violation)\n",
            M::NAME,
            v.name(),
            h.finish(),
            inputs.len()
        ));
    }
}

/// Feeds everything `x` says into `h`.
fn mix_verdict(h: &mut Mix, x: &Verdict) {
    h.write_u64(x.trace_hash);
    h.write_u64(x.steps);
    h.write_u64(x.end_time);
    h.write_u8(u8::from(x.violation.is_some()));
    for v in x.violation.iter().chain(&x.suppressed) {
        mix_violation(h, v);
    }
}

fn mix_violation(h: &mut Mix, v: &Violation) {
    h.write(v.signature().as_bytes());
    h.write(v.msg.as_bytes());
    h.write_u64(v.time);
    h.write_u8(v.cpu.map_or(0xff, |c| c));
}
