//! The reboot sequence after kernel/reboot.c `kernel_restart()`: the user's `reboot` kills
//! every process and waits a grace period, then `kernel_restart_prepare()` runs
//! `device_shutdown()` (drivers/base/core.c: devices in reverse order of the devices_kset list,
//! i.e. reverse probe order with device links moving consumers after their suppliers), then
//! `migrate_to_reboot_cpu()` (the reboot task must get onto CPU 0), `syscore_shutdown()`, and
//! `machine_restart()`, which stops every other CPU.

use super::callers::{iommu_unmap, sleep_on, sleep_until};
use super::driver::{arm_smmu_device_disable, Cpu};
use super::hw::MAX_DEVS;
use super::variants::Shutdown;
use super::world::{Ev, REBOOT_BOUND};
use crate::oracle::Class;
use crate::sim::clock::{Secs, Site, SEC};
use crate::sim::cpu::Run;

/// `reboot_cpu` (default 0).
pub const REBOOT_CPU: u8 = 0;
/// Device number standing for the SMMU in the shutdown list.
const SMMU: u8 = MAX_DEVS as u8;

/// The devices_kset list in probe order: early clients, the SMMU, the rest. A device link
/// (`device_link_add(client, smmu)`) moves the consumer to the tail, after its supplier.
fn probe_order(cx: &Cpu<'_>, out: &mut [u8; MAX_DEVS + 1]) -> usize {
    let w = cx.w();
    let link = w.v.device_link;
    let mut n = 0;
    let mut push = |d: u8| {
        out[n] = d;
        n += 1;
    };
    for d in 0..w.ndevs() {
        if w.clients[d as usize].early && !link {
            push(d);
        }
    }
    push(SMMU);
    for d in 0..w.ndevs() {
        if !w.clients[d as usize].early || link {
            push(d);
        }
    }
    n
}

/// `device_shutdown()`: reverse order; a client's `.shutdown` unmaps its buffers, the SMMU's
/// (mainline) disables it. Each device's callback runs under its device lock (may schedule).
async fn device_shutdown(cx: &Cpu<'_>) {
    let mut order = [0u8; MAX_DEVS + 1];
    let n = probe_order(cx, &mut order);
    for &d in order[..n].iter().rev() {
        cx.func("device_shutdown");
        cx.w().ev(Ev::DevShutdown(d));
        cx.op_begin();
        if d == SMMU {
            if cx.w().v.shutdown == Shutdown::Device {
                arm_smmu_device_disable(cx).await;
            }
        } else {
            let bufs = cx.w().clients[d as usize].shutdown_unmaps;
            for _ in 0..bufs {
                iommu_unmap(cx, d, 1).await;
            }
        }
        cx.op_end();
    }
}

/// `migrate_to_reboot_cpu()`: the reboot task waits (asleep) until CPU 0 schedules, which a
/// task spinning inside the kernel without a schedule() never does.
async fn migrate_to_reboot_cpu(cx: &Cpu<'_>) {
    if cx.id == REBOOT_CPU {
        return;
    }
    cx.func("migrate_to_reboot_cpu");
    let t0 = cx.now();
    {
        let mut w = cx.w();
        w.reboot.holder = w.m.cpus[REBOOT_CPU as usize].func;
        w.ev(Ev::MigrateWait);
    }
    sleep_on(cx, |w| {
        let c = &w.m.cpus[REBOOT_CPU as usize];
        c.run != Run::Running || c.busy_since.is_none()
    })
    .await;
    let mut w = cx.w();
    w.reboot.migrate_wait = w.m.now - t0;
    w.ev(Ev::Migrated);
}

/// `syscore_shutdown()`: with the RFC, `arm_smmu_shutdown()` disables every SMMU here.
async fn syscore_shutdown(cx: &Cpu<'_>) {
    cx.func("syscore_shutdown");
    cx.w().ev(Ev::Syscore);
    if cx.w().v.shutdown == Shutdown::Syscore {
        cx.op_begin();
        arm_smmu_device_disable(cx).await;
        cx.op_end();
    }
}

/// The reboot task: waits for `env:reboot`, SIGKILL + grace period, `kernel_restart()`.
pub async fn reboot(cx: &Cpu<'_>) {
    cx.func("reboot");
    sleep_on(cx, |w| w.reboot.fired).await;
    cx.at(Site::Mem).await;
    let grace = {
        let mut w = cx.w();
        w.reboot.sigkill = true;
        w.m.touch();
        w.ev(Ev::Kill);
        w.grace
    };
    let t = cx.now() + grace;
    sleep_until(cx, t).await;
    cx.func("kernel_restart");
    let start = cx.now();
    {
        let mut w = cx.w();
        w.reboot.start = start;
        w.ev(Ev::Restart);
    }
    device_shutdown(cx).await;
    cx.w().reboot.shutdown_time = cx.now() - start;
    migrate_to_reboot_cpu(cx).await;
    syscore_shutdown(cx).await;
    cx.func("machine_restart");
    cx.at(Site::Mem).await;
    machine_restart(cx);
}

/// `machine_restart()`: "Restarting system", every other CPU stopped; the reboot oracle
/// checks the whole `kernel_restart()` took bounded time.
fn machine_restart(cx: &Cpu<'_>) {
    let mut w = cx.w();
    w.ev(Ev::MachineRestart);
    w.stop_other_cpus(cx.id);
    w.reboot.done = true;
    let took = w.m.now - w.reboot.start;
    if took <= REBOOT_BOUND {
        return;
    }
    let r = w.reboot;
    let held = if r.holder.is_empty() { "-" } else { r.holder };
    let msg = format!(
        "kernel_restart() took {} s (bound {} s): device_shutdown() {} s, \
         migrate_to_reboot_cpu() waited {} s for cpu{REBOOT_CPU} (in {held}), {} CMD_SYNC timeouts",
        Secs(took),
        REBOOT_BOUND / SEC,
        Secs(r.shutdown_time),
        Secs(r.migrate_wait),
        w.sync_timeouts
    );
    let cause = if r.migrate_wait > r.shutdown_time {
        "migrate-blocked"
    } else {
        "shutdown-slow"
    };
    w.violate(Class::RebootHang, "kernel_restart", cause, msg);
}
