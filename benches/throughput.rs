//! Criterion benchmark of executions per second on the standard workloads: VT-d (2 CPUs, L=16,
//! three submissions per CPU with mixed counts, faults enabled) and SMMUv3 (3 CPUs, 128-entry
//! queue, unmap and SVA release mixed, faults on). `cargo bench` reports time per execution and
//! elements per second; `iommufuzz bench [--model smmuv3]` prints exec/s directly.
//!
//! A third group, `floor`, measures the execution model alone: two CPUs that do nothing but
//! yield, as many steps as the VT-d workload takes (171), no hardware, no oracles, no trace. It
//! is the least any model built on the executor can cost per run. Its second entry yields
//! through eight nested `async fn`s, as driver code does (VT-d's poll loop sits five or six calls
//! below the CPU's program, SMMUv3's CMD_SYNC wait nine or ten): what resuming a CPU that deep
//! costs on top.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iommufuzz::cli::campaign::Campaign;
use iommufuzz::oracle::{OracleMask, Suppressions, Violation};
use iommufuzz::sim::cell::Shared;
use iommufuzz::sim::choice::{Bytes, Step};
use iommufuzz::sim::clock::{Site, Time};
use iommufuzz::sim::cpu::{Cx, HasMachine, Machine};
use iommufuzz::sim::executor::{self, Exec, Limits, RunOpts, World};
use iommufuzz::sim::model::newest;
use iommufuzz::sim::outcome::Source;
use iommufuzz::sim::runner::Runner;
use iommufuzz::smmuv3::model::Smmuv3Model;
use iommufuzz::vtd::model::VtdModel;
use std::hint::black_box;
use std::pin::pin;

/// 256 executions of model `M`'s standard workload on its upstream variant, per iteration.
fn workload<M: Campaign>(c: &mut Criterion) {
    let inputs = M::bench_inputs(256);
    let var = newest::<M>();
    let mut r = Runner::<M>::default();
    // Untraced, as the fuzz targets, `explore` and `iommufuzz bench` run.
    r.set_tracing(false);
    let mut g = c.benchmark_group(M::NAME);
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("standard-workload-256-execs", |b| {
        b.iter(|| {
            for sc in &inputs {
                black_box(r.run(sc, var, Source::Bytes(&sc.decisions)).steps);
            }
        })
    });
    g.finish();
}

/// A world with nothing in it but the machine: no model actions, no checks.
struct Bare(Machine);

impl HasMachine for Bare {
    fn machine(&self) -> &Machine {
        &self.0
    }
    fn machine_mut(&mut self) -> &mut Machine {
        &mut self.0
    }
    fn why_waiting(&self, _: u8) -> &'static str {
        ""
    }
}

impl World for Bare {
    type Action = u8;
    fn actions(&self, _: bool, _: &mut Vec<Step<u8>>) {}
    fn apply(&mut self, _: u8) {}
    fn next_deadline(&self) -> Option<Time> {
        None
    }
    fn check(&mut self) -> Option<Violation> {
        None
    }
    fn cause(&self, _: u8) -> &'static str {
        ""
    }
}

/// A CPU program that only yields, `n` times, each a shared access.
async fn yields(cx: Cx<'_, Bare>, n: u32) {
    for _ in 0..n {
        cx.at(Site::Mem).await;
    }
}

/// `yields` called through `async fn`s nested `$n` deep, one per name: each level only awaits
/// the next, so a step resumes every level on the way down and leaves none.
macro_rules! nested {
    ($leaf:ident; $($f:ident => $g:ident),*) => {
        async fn $leaf(cx: &Cx<'_, Bare>, n: u32) {
            for _ in 0..n {
                cx.at(Site::Mem).await;
            }
        }
        $(async fn $f(cx: &Cx<'_, Bare>, n: u32) {
            $g(cx, n).await
        })*
    };
}
nested!(d1; d2 => d1, d3 => d2, d4 => d3, d5 => d4, d6 => d5, d7 => d6, d8 => d7);

/// A CPU program whose yields are eight calls deep.
async fn deep_yields(cx: Cx<'_, Bare>, n: u32) {
    d8(&cx, n).await
}

/// 256 executions of two CPUs yielding 85 and 86 times (171 steps, as the VT-d workload), from
/// the program itself and from eight calls down.
fn floor(c: &mut Criterion) {
    let cell = Shared::new(Bare(Machine::new(2)));
    let mut ex = Exec::<u8>::default();
    let sup = Suppressions::default();
    let o = RunOpts {
        limits: Limits::default(),
        mask: OracleMask::default(),
        sup: &sup,
    };
    let bytes: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut g = c.benchmark_group("floor");
    g.throughput(Throughput::Elements(256));
    // The two programs' futures are of different types: one loop, written once, for each.
    macro_rules! case {
        ($name:literal, $prog:ident) => {
            g.bench_function($name, |b| {
                b.iter(|| {
                    for i in 0..256 {
                        *cell.borrow_mut() = Bare(Machine::new(2));
                        let f0 = pin!($prog(Cx::new(0, &cell), 85));
                        let f1 = pin!($prog(Cx::new(1, &cell), 86));
                        let mut futs = [f0, f1];
                        let mut src = Bytes::new(&bytes[i..]);
                        black_box(executor::run(&cell, &mut futs, &mut src, &o, &mut ex));
                    }
                })
            });
        };
    }
    case!("two-cpus-171-yields-256-execs", yields);
    case!("two-cpus-171-yields-8-deep-256-execs", deep_yields);
    g.finish();
}

criterion_group!(
    benches,
    workload::<VtdModel>,
    workload::<Smmuv3Model>,
    floor
);
criterion_main!(benches);
