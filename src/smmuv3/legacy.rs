//! The pre-2019 command queue: one spinlock (`cmdq.lock`) around every insertion, PROD
//! written per command, and CMD_SYNC completion by an MSI that writes MSIData into the shared
//! `smmu->sync_count` word, polled outside the lock (49806599c31d "Use CMD_SYNC completion
//! MSI", 37de98f8f1cf "Poll for CMD_SYNC outside cmdq lock"). Before 0f02477d1698 "Fix
//! unexpected CMD_SYNC timeout" the MSIData came from `atomic_inc_return(&smmu->sync_nr)`
//! before the lock, so two CPUs could insert their SYNCs in the other order than their
//! numbers: the later-numbered waiter then sees the smaller number written last and times out.
//! Replaced by the lock-free design (587e6c10a7ce); modelled to reproduce that bug.

use super::driver::{queue_poll, relax_parked, Cpu, ETIMEDOUT, POLL_TIMEOUT};
use super::hw::{Cmd, Cs};
use super::world::{tag, Ev, CMDQ_LOCK, SYNC_IDX};
use crate::sim::clock::Site;

/// `arm_smmu_cmdq_insert_cmd()` under `cmdq.lock`: wait while the queue is full (reading
/// CONS), write the entry, advance prod and write PROD.
async fn insert(cx: &Cpu<'_>, c: Cmd) {
    let (len, mask) = {
        let w = cx.w();
        (w.hw.len(), (w.hw.len() << 1) - 1)
    };
    let full = |p: u32, c: u32| (p & (len - 1)) == (c & (len - 1)) && (p & len) != (c & len);
    cx.at(Site::Mem).await;
    let (p0, c0) = {
        let w = cx.w();
        (w.sw.prod, w.sw.cons)
    };
    if full(p0, c0) {
        // queue_poll_cons(q, false, wfe): refresh cons from CONS until not full or 1 s.
        let deadline = cx.now() + POLL_TIMEOUT;
        cx.at(Site::Mmio).await;
        // Each round either sees room, parks until something changes, or times out.
        for _ in 0..1u32 << 22 {
            let cons = cx.w().hw.read_cons();
            cx.w().sw.cons = cons;
            if !full(p0, cons) {
                break;
            }
            if queue_poll(cx, deadline).await != 0 {
                cx.w().ev(Ev::CmdqTimeout);
                break;
            }
        }
    }
    cx.at(Site::Mem).await;
    let prod = {
        let mut w = cx.w();
        let p = w.sw.prod;
        w.write_slot(p, c);
        w.sw.prod = (p + 1) & mask;
        w.m.touch();
        w.sw.prod
    };
    cx.at(Site::Mmio).await;
    let mut w = cx.w();
    w.hw.prod = prod;
    w.sw.owner_prod = prod;
    w.m.touch();
    w.ev(Ev::Publish(prod));
}

/// `arm_smmu_cmdq_issue_cmd()`: one command under the irqsave spinlock.
async fn issue_cmd(cx: &Cpu<'_>, c: Cmd) {
    let flags = cx.spin_lock_irqsave(CMDQ_LOCK).await;
    insert(cx, c).await;
    cx.spin_unlock_irqrestore(CMDQ_LOCK, flags).await;
}

/// `atomic_inc_return_relaxed(&smmu->sync_nr)`.
async fn next_msidata(cx: &Cpu<'_>) -> u32 {
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    w.sw.sync_nr = w.sw.sync_nr.wrapping_add(1);
    w.m.touch_driver_only();
    w.sw.sync_nr
}

/// `__arm_smmu_cmdq_issue_sync_msi()`: insert a CMD_SYNC whose MSI writes its number into
/// `sync_count`, then `__arm_smmu_sync_poll_msi()` outside the lock: wait until
/// `(int)(sync_count - number) >= 0` or 1 s.
async fn issue_sync_msi(cx: &Cpu<'_>, sub: u16, in_lock: bool) -> i32 {
    let mut msidata = 0;
    if !in_lock {
        msidata = next_msidata(cx).await;
    }
    let flags = cx.spin_lock_irqsave(CMDQ_LOCK).await;
    if in_lock {
        msidata = next_msidata(cx).await;
    }
    let c = Cmd {
        msi_count: true,
        msidata,
        tag: tag(sub, SYNC_IDX),
        ..Cmd::sync(Cs::Irq)
    };
    insert(cx, c).await;
    cx.spin_unlock_irqrestore(CMDQ_LOCK, flags).await;
    cx.func("__arm_smmu_sync_poll_msi");
    cx.w().ev(Ev::MsiWait(msidata));
    let deadline = cx.now() + POLL_TIMEOUT;
    cx.at(Site::Mem).await;
    // Bounded by the 1 s deadline: each round parks until a change or the deadline.
    for _ in 0..1u32 << 22 {
        let v = cx.w().hw.sync_count;
        if v.wrapping_sub(msidata) as i32 >= 0 {
            return 0;
        }
        if cx.now() >= deadline {
            cx.w().ghost_sync_timeout(sub, "__arm_smmu_sync_poll_msi");
            let mut w = cx.w();
            w.ev(Ev::MsiTimeout(msidata));
            w.note_sync_timeout(cx.id);
            return ETIMEDOUT;
        }
        relax_parked(cx, deadline).await;
    }
    ETIMEDOUT
}

/// The callers' view of one batch on the old design: each command by
/// `arm_smmu_cmdq_issue_cmd()`, then `arm_smmu_cmdq_issue_sync()` with MSIs.
pub async fn issue(cx: &Cpu<'_>, cmds: &[Cmd], sync: bool, sub: u16, in_lock: bool) -> i32 {
    cx.func("arm_smmu_cmdq_issue_cmd");
    for c in cmds {
        issue_cmd(cx, *c).await;
    }
    if !sync {
        return 0;
    }
    let rc = issue_sync_msi(cx, sub, in_lock).await;
    cx.w().ev(Ev::Ret(rc as i8));
    rc
}
