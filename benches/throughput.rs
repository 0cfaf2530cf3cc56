//! Criterion benchmark of executions per second on the standard workloads: VT-d (2 CPUs, L=16,
//! three submissions per CPU with mixed counts, faults enabled) and SMMUv3 (3 CPUs, 128-entry
//! queue, unmap and SVA release mixed, faults on). `cargo bench` reports time per execution and
//! elements per second; `iommufuzz bench [--model smmuv3]` prints exec/s directly.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iommufuzz::vtd::variants::newest;
use iommufuzz::{bench_inputs, Runner, Source};
use std::hint::black_box;

fn standard_workload(c: &mut Criterion) {
    let inputs = bench_inputs(256);
    let var = newest();
    let mut r = Runner::default();
    let mut g = c.benchmark_group("vtd");
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

fn smmuv3_workload(c: &mut Criterion) {
    use iommufuzz::smmuv3::scenario::{bench_inputs, Runner, Source};
    let inputs = bench_inputs(256);
    let var = iommufuzz::smmuv3::variants::newest();
    let mut r = Runner::default();
    let mut g = c.benchmark_group("smmuv3");
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

criterion_group!(benches, standard_workload, smmuv3_workload);
criterion_main!(benches);
