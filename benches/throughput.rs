//! Criterion benchmark of executions per second on the standard workloads: VT-d (2 CPUs, L=16,
//! three submissions per CPU with mixed counts, faults enabled) and SMMUv3 (3 CPUs, 128-entry
//! queue, unmap and SVA release mixed, faults on). `cargo bench` reports time per execution and
//! elements per second; `iommufuzz bench [--model smmuv3]` prints exec/s directly.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iommufuzz::cli::campaign::Campaign;
use iommufuzz::sim::model::newest;
use iommufuzz::sim::outcome::Source;
use iommufuzz::sim::runner::Runner;
use iommufuzz::smmuv3::model::Smmuv3Model;
use iommufuzz::vtd::model::VtdModel;
use std::hint::black_box;

/// 256 executions of model `M`'s standard workload on its upstream variant, per iteration.
fn workload<M: Campaign>(c: &mut Criterion) {
    let inputs = M::bench_inputs(256);
    let var = newest::<M>();
    let mut r = Runner::<M>::default();
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

criterion_group!(benches, workload::<VtdModel>, workload::<Smmuv3Model>);
criterion_main!(benches);
