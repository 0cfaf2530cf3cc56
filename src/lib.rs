//! iommufuzz: a deterministic, fault-injecting simulator of IOMMU invalidation queues (the Linux
//! driver code that submits invalidations plus the hardware queue that executes them), driven
//! by fuzzers. See DESIGN in the README for the architecture.

#![deny(unsafe_code)]

pub mod cli;
pub mod fuzz;
pub mod oracle;
pub mod report;
pub mod sim;
pub mod smmuv3;
pub mod vtd;

pub use oracle::{Class, Suppressions, Violation};
pub use vtd::scenario::{decode, Runner, Scenario, ScenarioFile, Source, Verdict};
pub use vtd::variants::{Variant, VARIANTS};

/// Signatures suppressed unless a run says otherwise: a device-TLB invalidation to an endpoint
/// that does not answer legitimately takes the whole ATS completion timeout (PCIe: one minute)
/// with interrupts off, so the kernel's hard-lockup, soft-lockup and RCU-stall watchdogs fire
/// although the submission returns. Suppressed findings are still counted and listed.
pub const DEFAULT_SUPPRESSIONS: &str = "\
watchdog-hard-lockup:*:ats-timeout
watchdog-soft-lockup:*:ats-timeout
rcu-stall:*:ats-timeout
";

/// Runs raw fuzzer bytes on a VT-d variant with the default oracles, as the fuzz targets do.
pub fn run_raw(runner: &mut Runner, v: &'static Variant, data: &[u8]) -> Verdict {
    let sc = decode(data);
    runner.run(&sc, v, Source::Bytes(&sc.decisions))
}

/// The standard benchmark workload: 2 CPUs, L=16, three submissions per CPU with mixed counts
/// (1, 2, 3 invalidations, device-TLB included), ITE/IQE/ICE faults listed, and `n` different
/// decision streams from a fixed seed.
pub fn bench_inputs(n: usize) -> Vec<Scenario> {
    use rand::{Rng, SeedableRng};
    use vtd::ops::{Config, Fault, Inv, Op, Program};
    let cpu0 = Program {
        ops: vec![
            Op::Flush(vec![Inv::Iotlb]),
            Op::Flush(vec![Inv::Iotlb, Inv::DevTlb(0)]),
            Op::Flush(vec![Inv::Piotlb, Inv::Iotlb, Inv::DevTlbPasid(0)]),
        ],
    };
    let cpu1 = Program {
        ops: vec![
            Op::Flush(vec![Inv::Iotlb, Inv::DevTlb(1)]),
            Op::Flush(vec![Inv::Context]),
            Op::Flush(vec![Inv::Iec, Inv::Iotlb, Inv::DevTlb(0)]),
        ],
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1f0);
    (0..n)
        .map(|_| {
            let mut d = vec![0u8; 96];
            rng.fill_bytes(&mut d);
            Scenario {
                config: Config {
                    qlen: 16,
                    ndevs: 2,
                    ..Config::default()
                },
                cpus: vec![cpu0.clone(), cpu1.clone()],
                faults: vec![Fault::Ite(0), Fault::Iqe, Fault::Ice(1)],
                env: vec![],
                decisions: d,
            }
        })
        .collect()
}
