//! ARM SMMUv3 command queue: the CMDQ hardware, the Linux driver code that submits to it
//! (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c), its callers, the reboot sequence of
//! kernel/reboot.c, named kernel variants, and the scenario encoding.

pub mod backoff;
pub mod callers;
pub mod campaign;
pub mod driver;
pub mod encode;
pub mod ghost;
pub mod hw;
pub mod legacy;
pub mod model;
pub mod ops;
pub mod reboot;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod variants;
pub mod world;

use driver::Cpu;
use ops::{Op, Program};

/// Runs one operation. The exiting process and the reboot task sleep before their kernel
/// work, so they mark their own busy span.
pub async fn run_op(cx: &Cpu<'_>, op: &Op) {
    match *op {
        Op::Exit {
            delay_ms,
            bufs,
            pages,
            dev,
        } => callers::exit_process(cx, delay_ms, bufs, pages, dev).await,
        Op::Reboot => reboot::reboot(cx).await,
        _ => {
            cx.op_begin();
            match *op {
                Op::Unmap { dev, pages } => callers::iommu_unmap(cx, dev, pages).await,
                Op::SvaInvalidate { pages } => callers::sva_invalidate(cx, pages).await,
                Op::MmRelease => callers::mm_release(cx).await,
                Op::Exit { .. } | Op::Reboot => unreachable!("handled above"),
            }
            cx.op_end();
        }
    }
    // The task may schedule now: anyone sleeping on that (migrate_to_reboot_cpu) re-checks.
    // The model's actions do not read it.
    cx.w().m.touch_driver_only();
}

/// A CPU's whole program.
pub async fn cpu_main(cx: Cpu<'_>, prog: &Program) {
    for op in &prog.ops {
        run_op(&cx, op).await;
    }
    cx.func("");
}
