//! The Linux VT-d QI driver, line for line with drivers/iommu/intel/dmar.c: `qi_submit_sync`,
//! `qi_check_fault`, `reclaim_free_desc`, and the callers that build descriptors. Every access to
//! shared state (ring, `desc_status[]`, `q_inval` fields, MMIO registers) is preceded by a yield
//! point; `q_lock` is dropped and retaken exactly where the kernel does, with interrupts left
//! off across the poll loop. Variant knobs select the behaviour of each kernel version.

use super::hw::{fsts, Desc, DescType, Tag};
use super::ops::{Inv, Op, Program};
use super::variants::{Api, CallerCheck, Counts, IteWalk, Reclaim};
use super::world::{st, Ev, Vtd, DEVICE_DOMAIN_LOCK, DOMAIN_LOCK, Q_LOCK, REGISTER_LOCK};
use crate::sim::clock::{Site, Time, SEC};
use crate::sim::cpu::{Cx, Run};
use crate::sim::trace::Actor;

/// `-EINVAL`.
pub const EINVAL: i32 = -22;
/// `-EAGAIN`.
pub const EAGAIN: i32 = -11;
/// `-ETIMEDOUT`.
pub const ETIMEDOUT: i32 = -110;
/// `QI_OPT_WAIT_DRAIN`.
pub const QI_OPT_WAIT_DRAIN: u32 = 1;
/// `QI_MAX_BATCHED_DESC_COUNT`.
pub const QI_MAX_BATCHED_DESC_COUNT: usize = 16;

/// The CPU handle of the VT-d model.
pub type Cpu<'a> = Cx<'a, Vtd>;

fn prev(i: u16, n: u16, l: u16) -> u16 {
    (i + l - n % l) % l
}

/// `qi_submit_sync()` (8a1d82462540 shape; with count 1 it is also the pre-5.8 function):
/// queue `descs` plus a wait, ring the doorbell, poll the wait with `q_lock` dropped and
/// retaken each round and interrupts off throughout, restart on -EAGAIN.
pub async fn qi_submit_sync(cx: &Cpu<'_>, descs: &[Desc], options: u32) -> i32 {
    let count = descs.len();
    let me = {
        let mut w = cx.w();
        assert!(
            count + 2 <= w.qlen() as usize,
            "caller passed more descriptors than the ring holds"
        );
        let me = w.new_sub(cx.id, count as u8);
        let op_waited_ats = w.hist[cx.id as usize].op_waited_ats;
        w.hist[cx.id as usize] = super::world::Hist {
            op_waited_ats,
            ..Default::default()
        };
        w.ev(Ev::Call {
            sub: me,
            count: count as u8,
        });
        me
    };
    loop {
        cx.func("qi_submit_sync");
        let flags = cx.spin_lock_irqsave(Q_LOCK).await;
        wait_for_free_slots(cx, count, flags).await;
        let (first, wait) = queue_batch(cx, descs, options, me).await;
        let rc = poll_wait(cx, first, wait).await;
        release_slots(cx, first, count, me).await;
        cx.w().ghost_release(first, wait, me);
        reclaim_free_desc(cx, me).await;
        cx.func("qi_submit_sync");
        cx.spin_unlock_irqrestore(Q_LOCK, flags).await;
        if rc == EAGAIN {
            let mut w = cx.w();
            w.subs[me as usize].restarts += 1;
            w.hist[cx.id as usize].restarts += 1;
            w.ev(Ev::Restart);
            continue;
        }
        let mut w = cx.w();
        w.ev(Ev::Ret(rc as i8));
        w.snap(Actor::Cpu(cx.id));
        w.ghost_return(me, rc);
        return rc;
    }
}

/// `while (qi->free_cnt < count + 2)`: drop the lock, restore the caller's interrupt state,
/// `cpu_relax()`, retake.
async fn wait_for_free_slots(cx: &Cpu<'_>, count: usize, flags: bool) {
    let mut logged = false;
    loop {
        cx.at(Site::Mem).await;
        if cx.w().qi.free_cnt as usize >= count + 2 {
            cx.w().hist[cx.id as usize].queue_full = false;
            return;
        }
        if !logged {
            let mut w = cx.w();
            w.ev(Ev::QueueFull);
            w.hist[cx.id as usize].queue_full = true;
            logged = true;
        }
        cx.spin_unlock_irqrestore(Q_LOCK, flags).await;
        cx.cpu_relax().await;
        cx.spin_lock_irqsave(Q_LOCK).await;
    }
}

/// Copies the descriptors and the wait into slots from `free_head`, marks them IN_USE,
/// advances `free_head`, writes IQT. Returns (first slot, wait slot).
async fn queue_batch(cx: &Cpu<'_>, descs: &[Desc], options: u32, me: u16) -> (u16, u16) {
    let (first, l) = {
        let w = cx.w();
        (w.qi.free_head, w.qlen())
    };
    let count = descs.len() as u16;
    let wait = (first + count) % l;
    for (k, d) in descs.iter().enumerate() {
        cx.at(Site::Mem).await;
        let slot = (first + k as u16) % l;
        let d = Desc {
            tag: Tag {
                sub: me,
                idx: k as u8,
            },
            ..*d
        };
        let mut w = cx.w();
        w.write_slot(slot, d, me);
        w.set_status(slot, st::QI_IN_USE, me);
        // A retry after -EAGAIN queues it again: an earlier attempt's timeout no longer says
        // why this one did not run.
        w.subs[me as usize].timed_out &= !(1 << k);
        if d.ty == DescType::Wait {
            // A caller's own wait (the PRQ drain's fence) is not an invalidation: the
            // no-false-success oracle has nothing to demand of it.
            w.subs[me as usize].executed |= 1 << k;
        }
    }
    cx.at(Site::Mem).await;
    {
        let wd = Desc {
            ty: DescType::Wait,
            status: wait,
            sw: true,
            drain: options & QI_OPT_WAIT_DRAIN != 0,
            tag: Tag {
                sub: me,
                idx: count as u8,
            },
            ..Desc::EMPTY
        };
        let mut w = cx.w();
        w.set_status(wait, st::QI_IN_USE, me);
        w.write_slot(wait, wd, me);
        w.subs[me as usize].wait = wait;
        w.subs[me as usize].wait_dropped = false;
        w.qi.free_head = (first + count + 1) % l;
        w.qi.free_cnt -= count + 1;
        w.ev(Ev::Claim { first, w: wait });
    }
    cx.at(Site::Mmio).await;
    let mut w = cx.w();
    w.hw.iqt = w.qi.free_head;
    let iqt = w.hw.iqt;
    w.m.touch();
    w.ev(Ev::Iqt(iqt));
    (first, wait)
}

/// `while (READ_ONCE(qi->desc_status[wait_index]) != QI_DONE)`: check faults, drop `q_lock`
/// with interrupts left off, `cpu_relax()`, retake.
async fn poll_wait(cx: &Cpu<'_>, first: u16, wait: u16) -> i32 {
    let mut seen = u8::MAX;
    loop {
        cx.at(Site::Mem).await;
        let s = cx.w().qi.status[wait as usize];
        if s == st::QI_DONE {
            return 0;
        }
        if s != seen {
            cx.w().ev(Ev::Poll { slot: wait, val: s });
            seen = s;
        }
        let rc = qi_check_fault(cx, first, wait).await;
        cx.func("qi_submit_sync");
        if rc != 0 {
            return rc;
        }
        cx.spin_unlock(Q_LOCK).await;
        cx.cpu_relax().await;
        cx.spin_lock(Q_LOCK).await;
    }
}

/// After the poll loop: before 3cf74230c139 the invalidation slots become DONE (the wait slot
/// stays as the hardware or the ITE walk left it); from it on every slot, wait included, FREE.
async fn release_slots(cx: &Cpu<'_>, first: u16, count: usize, me: u16) {
    let (reclaim, l) = {
        let w = cx.w();
        (w.v.reclaim, w.qlen())
    };
    let (n, val) = match reclaim {
        Reclaim::DoneOrAbort => (count, st::QI_DONE),
        Reclaim::FreeOnly => (count + 1, st::QI_FREE),
    };
    for k in 0..n {
        cx.at(Site::Mem).await;
        cx.w().set_status((first + k as u16) % l, val, me);
    }
}

/// `reclaim_free_desc()`: advance `free_tail` over reclaimable slots.
async fn reclaim_free_desc(cx: &Cpu<'_>, me: u16) {
    cx.func("reclaim_free_desc");
    let l = cx.w().qlen();
    for _ in 0..l {
        cx.at(Site::Mem).await;
        let mut w = cx.w();
        let t = w.qi.free_tail;
        let s = w.qi.status[t as usize];
        let more = match w.v.reclaim {
            Reclaim::DoneOrAbort => s == st::QI_DONE || s == st::QI_ABORT,
            Reclaim::FreeOnly => s == st::QI_FREE && t != w.qi.free_head,
        };
        if !more {
            return;
        }
        if w.v.reclaim == Reclaim::DoneOrAbort {
            w.set_status(t, st::QI_FREE, me);
        }
        w.qi.free_tail = (t + 1) % l;
        w.qi.free_cnt += 1;
        let tail = w.qi.free_tail;
        w.ev(Ev::Reclaim { tail });
    }
}

/// `qi_check_fault(iommu, index, wait_index)`, called with `q_lock` held, interrupts off.
async fn qi_check_fault(cx: &Cpu<'_>, first: u16, wait: u16) -> i32 {
    let v = cx.w().v;
    if v.ite_walk == IteWalk::None && !v.iqe_fix {
        return 0;
    }
    cx.func("qi_check_fault");
    cx.at(Site::Mem).await;
    if cx.w().qi.status[wait as usize] == st::QI_ABORT {
        return EAGAIN;
    }
    cx.at(Site::Mmio).await;
    let f = cx.w().hw.fsts;
    if v.dump_fault && f & fsts::QI_MASK != 0 {
        qi_dump_fault(cx, f).await;
    }
    if f & fsts::IQE != 0 && v.iqe_fix {
        cx.at(Site::Mmio).await;
        if cx.w().hw.iqh == first {
            return iqe_repair(cx, first, wait).await;
        }
    }
    if f & fsts::ITE != 0 {
        let rc = ite(cx, wait).await;
        if rc != 0 {
            return rc;
        }
    }
    if f & fsts::ICE != 0 {
        write_fsts(cx, fsts::ICE).await;
    }
    0
}

/// `qi_dump_fault()` (6ca69e5841f0): reads IQH and IQER, prints, on every poll iteration.
async fn qi_dump_fault(cx: &Cpu<'_>, f: u8) {
    cx.at(Site::Mmio).await;
    let mut w = cx.w();
    w.prints += 1;
    w.ev(Ev::Fault(f));
}

async fn write_fsts(cx: &Cpu<'_>, bits: u8) {
    cx.at(Site::Mmio).await;
    let mut w = cx.w();
    w.hw.write_fsts(bits);
    w.m.touch();
    w.ev(Ev::ClearFsts(bits));
}

/// IQE with IQH on this caller's first slot: copy the wait over it, clear IQE, -EINVAL. The
/// offending invalidation is dropped; the hardware then runs the copy and the rest.
async fn iqe_repair(cx: &Cpu<'_>, first: u16, wait: u16) -> i32 {
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        let d = w.hw.ring[wait as usize];
        w.hw.ring[first as usize] = d;
        w.m.touch();
        w.iqe_cleared_by_irq = false;
        w.ev(Ev::IqeFix(first));
    }
    write_fsts(cx, fsts::IQE).await;
    EINVAL
}

/// The ITE branch of `qi_check_fault`, per variant.
async fn ite(cx: &Cpu<'_>, wait: u16) -> i32 {
    let v = cx.w().v;
    match v.ite_walk {
        IteWalk::None => 0,
        IteWalk::DirectEagain => {
            write_fsts(cx, fsts::ITE).await;
            cx.w().ite_clearer = super::world::IteClearer::Direct;
            EAGAIN
        }
        IteWalk::Odd2009 | IteWalk::Step1 => ite_walk(cx, wait).await,
    }
}

/// 6ba6c3a4cacf / fe89277c9ceb: read IQH and IQT (and, from 80a9b50c0b9e, IQER.ITESID), clear
/// ITE, then mark IN_USE slots ABORT walking back from IQH-1 until IQT-1; the 2009 walk starts
/// at an odd index and steps by two, the 2026 walk steps by one.
async fn ite_walk(cx: &Cpu<'_>, wait: u16) -> i32 {
    let (v, l) = {
        let w = cx.w();
        (w.v, w.qlen())
    };
    let odd = v.ite_walk == IteWalk::Odd2009;
    cx.at(Site::Mmio).await;
    let mut head = prev(cx.w().hw.iqh, 1, l);
    if odd {
        head |= 1;
    }
    cx.at(Site::Mmio).await;
    let tail = prev(cx.w().hw.iqt, 1, l);
    let mut sid = 0;
    if v.ite_presence_check {
        cx.at(Site::Mmio).await;
        sid = cx.w().hw.itesid;
    }
    write_fsts(cx, fsts::ITE).await;
    cx.w().ite_clearer = super::world::IteClearer::Walk;
    cx.w().ev(Ev::Walk { head, tail });
    let step = if odd { 2 } else { 1 };
    let mut n = 0u32;
    loop {
        mark_abort(cx, head).await;
        head = prev(head, step, l);
        n += 1;
        if head == tail {
            break;
        }
        if n > u32::from(l) {
            // head takes at most L values and the exit test depends on head alone.
            cx.hang(
                "ITE walk never reaches IQT-1: head steps by 2 from an odd index and IQT-1 is even",
            )
            .await;
        }
    }
    if sid != 0 && !device_present(cx, sid).await {
        return ETIMEDOUT;
    }
    cx.at(Site::Mem).await;
    if cx.w().qi.status[wait as usize] == st::QI_ABORT {
        return EAGAIN;
    }
    0
}

async fn mark_abort(cx: &Cpu<'_>, slot: u16) {
    cx.at(Site::Mem).await;
    if cx.w().qi.status[slot as usize] != st::QI_IN_USE {
        return;
    }
    cx.at(Site::Mem).await;
    cx.w().set_status(slot, st::QI_ABORT, 0);
}

/// 80a9b50c0b9e: `device_rbtree_find()` and `pci_device_is_present()` (a config read).
async fn device_present(cx: &Cpu<'_>, sid: u16) -> bool {
    cx.at(Site::Mmio).await;
    let w = cx.w();
    match super::hw::dev_of_sid(sid, w.hw.ndevs) {
        Some(d) => w.hw.devs[d as usize].present(),
        None => false,
    }
}

fn desc(ty: DescType, dev: u8) -> Desc {
    Desc {
        ty,
        dev,
        ..Desc::EMPTY
    }
}

fn inv_desc(i: Inv) -> Desc {
    match i {
        Inv::Iotlb => desc(DescType::Iotlb, 0),
        Inv::DevTlb(d) => desc(DescType::DevTlb, d),
        Inv::Piotlb => desc(DescType::Piotlb, 0),
        Inv::DevTlbPasid(d) => desc(DescType::DevTlbPasid, d),
        Inv::Context => desc(DescType::Cc, 0),
        Inv::Iec => desc(DescType::Iec, 0),
    }
}

/// The TE check of `qi_flush_dev_iotlb*()` and the batch helpers: an unlocked read of the
/// `gcmd` shadow. True when the device-TLB flush goes ahead.
async fn devtlb_allowed(cx: &Cpu<'_>, dev: u8) -> bool {
    if !cx.w().v.devtlb_skip_te_off {
        return true;
    }
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    if w.qi.gcmd_te {
        return true;
    }
    w.ev(Ev::Skip(dev));
    false
}

/// The lock a range flush of `invs` holds on the kernels with a per-domain one: that of the
/// domain whose devices' TLBs it invalidates (`Vtd::domain`), or none for a flush that names no
/// device: a domain with no ATS device, which no other CPU's flush names either.
fn domain_lock(w: &Vtd, invs: &[Inv]) -> Option<u8> {
    invs.iter().find_map(|i| match i {
        Inv::DevTlb(d) => Some(DOMAIN_LOCK + w.domain[*d as usize]),
        _ => None,
    })
}

/// Turns interrupts off and takes `lock` if there is one (`spin_lock_irqsave()`, or
/// `local_irq_save()` alone). Returns the saved interrupt state.
async fn irqsave_section(cx: &Cpu<'_>, lock: Option<u8>) -> bool {
    match lock {
        Some(l) => cx.spin_lock_irqsave(l).await,
        None => cx.irq_save(),
    }
}

/// Leaves the section `irqsave_section` entered.
async fn irqrestore_section(cx: &Cpu<'_>, lock: Option<u8>, flags: bool) {
    match lock {
        Some(l) => cx.spin_unlock_irqrestore(l, flags).await,
        None => cx.irq_restore(flags).await,
    }
}

/// Range invalidation: one call per invalidation before batching (705c1cdf1e73), then
/// `qi_batch_add_*` + `qi_batch_flush_descs()`; from the cache tags (v6.10) all of it under
/// `domain->cache_lock` (irqsave). Two CPUs flushing one domain (`domain_lock`) serialise on
/// its lock; before v6.0 every device-TLB loop takes the global `device_domain_lock`. With
/// `any_count` the whole list is one call, as the API allows.
async fn flush(cx: &Cpu<'_>, invs: &[Inv]) {
    let (v, any, l, dom) = {
        let w = cx.w();
        (
            w.v,
            w.cfg.any_count,
            w.qlen() as usize,
            domain_lock(&w, invs),
        )
    };
    let mut batch = [Desc::EMPTY; QI_MAX_BATCHED_DESC_COUNT];
    let mut n = 0;
    let batched = v.api == Api::Multi && (any || v.counts == Counts::Batched);
    let locked = batched || v.cache_tag_lock;
    // From v6.10 `cache_tag_flush_range()` holds `domain->cache_lock` across the whole flush.
    let flush_lock = dom.filter(|_| v.cache_tag_lock);
    if flush_lock.is_some() {
        cx.func("cache_tag_flush_range");
    }
    let flags = if locked {
        irqsave_section(cx, flush_lock).await
    } else {
        false
    };
    // Before the cache tags, the device-TLB flushes of a range are `iommu_flush_dev_iotlb()`'s
    // loop over the domain's devices with interrupts off: under the global `device_domain_lock`
    // before v6.0, then under the domain's own `domain->lock` (5eaafdf0c055).
    let loop_lock = if v.devtlb_global_lock {
        Some(DEVICE_DOMAIN_LOCK)
    } else {
        dom
    };
    let mut dev_loop = None;
    for &i in invs {
        if !v.pasid && matches!(i, Inv::Piotlb | Inv::DevTlbPasid(_)) {
            // No caller of these kernels builds a PASID-granular descriptor: the range has
            // no such invalidation, so it neither ends a device-TLB loop nor starts one.
            continue;
        }
        let d = inv_desc(i);
        let in_loop = !locked && d.ty == DescType::DevTlb;
        match (in_loop, dev_loop) {
            (true, None) => {
                cx.func("iommu_flush_dev_iotlb");
                dev_loop = Some(irqsave_section(cx, loop_lock).await);
            }
            (false, Some(f)) => {
                irqrestore_section(cx, loop_lock, f).await;
                dev_loop = None;
            }
            _ => {}
        }
        if d.ty.is_ats() && !devtlb_allowed(cx, d.dev).await {
            continue;
        }
        if !batched {
            qi_submit_sync(cx, &[d], 0).await;
            continue;
        }
        batch[n] = d;
        n += 1;
        if n == QI_MAX_BATCHED_DESC_COUNT.min(l - 2) {
            qi_submit_sync(cx, &batch[..n], 0).await;
            n = 0;
        }
    }
    if n > 0 || (any && invs.is_empty() && v.api == Api::Multi) {
        qi_submit_sync(cx, &batch[..n], 0).await;
    }
    if let Some(f) = dev_loop {
        irqrestore_section(cx, loop_lock, f).await;
    }
    if locked {
        irqrestore_section(cx, flush_lock, flags).await;
    }
}

/// `intel_iommu_drain_pasid_prq()`: {fenced wait without status write, PIOTLB flush-all,
/// PASID device-TLB flush-all} with `QI_OPT_WAIT_DRAIN` (v5.8+).
async fn prq_drain(cx: &Cpu<'_>, dev: u8) {
    if cx.w().v.api == Api::Single {
        return;
    }
    let fenced = Desc {
        ty: DescType::Wait,
        fence: true,
        ..Desc::EMPTY
    };
    let descs = [
        fenced,
        desc(DescType::Piotlb, 0),
        desc(DescType::DevTlbPasid, dev),
    ];
    qi_submit_sync(cx, &descs, QI_OPT_WAIT_DRAIN).await;
}

/// Device teardown (release, or blocking the device's translation).
/// - Legacy kernels (`domain_remove_one_dev_info()` → `iommu_detach_dev()`) disable ATS and
///   flush the context cache and the IOTLB, globally: no device-TLB invalidation.
/// - Scalable mode (`intel_pasid_tear_down_entry()`): PASID cache, PASID-IOTLB, then the
///   device-TLB flush behind the teardown path's presence check (4fc82cd907ac, 10e60d878139)
///   and TE check; from v6.9 to v6.14 ATS is disabled before it
///   (`Variant::teardown_ats_off_first`) and the flush sends nothing.
/// - Until v5.19 `dmar_remove_one_dev_info()` runs all of it under the global
///   `device_domain_lock` (irqsave), then disables ATS and clears the context entry
///   (`domain_context_clear_one()`: context cache, then the domain's IOTLB) under the same lock.
async fn teardown(cx: &Cpu<'_>, dev: u8) {
    let v = cx.w().v;
    if v.api == Api::Single {
        qi_submit_sync(cx, &[desc(DescType::Cc, 0)], 0).await;
        qi_submit_sync(cx, &[desc(DescType::Iotlb, 0)], 0).await;
        return;
    }
    if !v.devtlb_global_lock {
        pasid_tear_down(cx, dev).await;
        return;
    }
    cx.func("dmar_remove_one_dev_info");
    let flags = cx.spin_lock_irqsave(DEVICE_DOMAIN_LOCK).await;
    pasid_tear_down(cx, dev).await;
    cx.func("domain_context_clear_one");
    qi_submit_sync(cx, &[desc(DescType::Cc, 0)], 0).await;
    qi_submit_sync(cx, &[desc(DescType::Iotlb, 0)], 0).await;
    cx.spin_unlock_irqrestore(DEVICE_DOMAIN_LOCK, flags).await;
}

/// `intel_pasid_tear_down_entry()`'s invalidations: PASID cache, PASID-IOTLB, device-TLB; from
/// c43e1ccdebf2 then the PRQ drain of a device with PRI enabled, sent whatever the device-TLB
/// step decided.
async fn pasid_tear_down(cx: &Cpu<'_>, dev: u8) {
    let v = cx.w().v;
    qi_submit_sync(cx, &[desc(DescType::Pc, 0)], 0).await;
    qi_submit_sync(cx, &[desc(DescType::Piotlb, 0)], 0).await;
    if v.teardown_ats_off_first {
        // `device_block_translation()` ran `iommu_disable_pci_caps()` first: with
        // `ats_enabled` clear, `devtlb_invalidation_with_pasid()` returns at once.
        return;
    }
    devtlb_invalidation_with_pasid(cx, dev).await;
    if v.teardown_drains_prq && cx.w().pri & (1 << dev) != 0 {
        cx.func("intel_iommu_drain_pasid_prq");
        prq_drain(cx, dev).await;
    }
}

/// `devtlb_invalidation_with_pasid()`: the caller's presence check, the TE check, the flush.
async fn devtlb_invalidation_with_pasid(cx: &Cpu<'_>, dev: u8) {
    let v = cx.w().v;
    cx.func("devtlb_invalidation_with_pasid");
    let skip = match v.caller_check {
        CallerCheck::None => false,
        CallerCheck::Disconnected => {
            cx.at(Site::Mem).await;
            cx.w().hw.devs[dev as usize].disconnected()
        }
        CallerCheck::Present => {
            cx.at(Site::Mmio).await;
            !cx.w().hw.devs[dev as usize].present()
        }
    };
    if skip {
        cx.w().ev(Ev::Skip(dev));
        return;
    }
    if devtlb_allowed(cx, dev).await {
        qi_submit_sync(cx, &[desc(DescType::DevTlbPasid, dev)], 0).await;
    }
}

/// `native_machine_shutdown()` (arch/x86/kernel/reboot.c), the only caller of
/// `intel_iommu_shutdown()` (via `x86_platform.iommu_shutdown`, 6c3a44ed3c55, v5.5):
/// interrupts off and `stop_other_cpus()` first, then `iommu_disable_translation()`: clear TE
/// in the `gcmd` shadow and in GCMD under `register_lock`. QI stays enabled. No other CPU
/// submits after that, and this one goes on to reset the machine. Before v5.5 the IOMMU is not
/// touched.
async fn shutdown(cx: &Cpu<'_>) {
    cx.func("native_machine_shutdown");
    // `local_irq_disable()`: interrupts stay off until the reset.
    cx.irq_save();
    stop_other_cpus(cx);
    if !cx.w().v.shutdown_te_off {
        return;
    }
    cx.func("intel_iommu_shutdown");
    iommu_set_translation(cx, false).await;
}

/// `iommu_disable_translation()` / `iommu_enable_translation()`: the `gcmd` shadow's TE bit,
/// then GCMD, under `register_lock` with interrupts off.
async fn iommu_set_translation(cx: &Cpu<'_>, on: bool) {
    let flags = cx.spin_lock_irqsave(REGISTER_LOCK).await;
    cx.at(Site::Mem).await;
    cx.w().qi.gcmd_te = on;
    cx.at(Site::Mmio).await;
    {
        let mut w = cx.w();
        w.hw.set_translation(on);
        w.m.touch();
        w.ev(if on { Ev::TeOn } else { Ev::TeOff });
    }
    cx.spin_unlock_irqrestore(REGISTER_LOCK, flags).await;
}

/// Stops the other CPUs; their submissions end with them (nothing waits for them any more).
fn stop_other_cpus(cx: &Cpu<'_>) {
    let mask = cx.stop_others();
    let mut w = cx.w();
    // A suspend under way ends with its CPU: nothing is taken offline or brought back any more.
    w.suspend.end();
    w.ghost_stopped(mask);
    w.ev(Ev::StopOthers(mask));
}

/// kexec into a kdump kernel: stop the other CPUs, then the new kernel's
/// `intel_iommu_init_qi()`: `dmar_disable_qi()` on the hardware the old kernel left, a freshly
/// allocated (zeroed) `q_inval`, and `__dmar_enable_qi()`.
async fn kexec_init_qi(cx: &Cpu<'_>) {
    stop_other_cpus(cx);
    dmar_disable_qi(cx).await;
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        w.qi.status = [st::QI_FREE; super::hw::MAX_L];
        w.m.touch();
    }
    dmar_enable_qi(cx).await;
}

/// `DMAR_OPERATION_TIMEOUT` on x86: ten seconds of TSC cycles.
pub const DMAR_OPERATION_TIMEOUT: Time = 10 * SEC;

/// `dmar_disable_qi()`: under `register_lock` with interrupts off, spin until the hardware has
/// fetched everything (IQT == IQH) or the operation timeout passed, then clear QIE. It takes no
/// `q_lock`: submitters in flight are neither waited for nor told.
async fn dmar_disable_qi(cx: &Cpu<'_>) {
    cx.func("dmar_disable_qi");
    let flags = cx.spin_lock_irqsave(REGISTER_LOCK).await;
    cx.at(Site::Mmio).await;
    if cx.w().hw.qies {
        let deadline = cx.now() + DMAR_OPERATION_TIMEOUT;
        let drained = wait_iqt_iqh(cx, deadline).await;
        cx.at(Site::Mmio).await;
        let mut w = cx.w();
        w.hw.disable_qi();
        w.m.touch();
        w.ev(Ev::QiOff(drained));
    }
    cx.spin_unlock_irqrestore(REGISTER_LOCK, flags).await;
}

/// The drain loop of `dmar_disable_qi()`: true when IQT == IQH was seen before `deadline`.
async fn wait_iqt_iqh(cx: &Cpu<'_>, deadline: Time) -> bool {
    loop {
        cx.at(Site::Mmio).await;
        let t = cx.w().hw.iqt;
        cx.at(Site::Mmio).await;
        if cx.w().hw.iqh == t {
            return true;
        }
        if cx.now() >= deadline {
            return false;
        }
        cx.cpu_relax_until(deadline).await;
    }
}

/// `__dmar_enable_qi()`: reset `free_head`, `free_tail` and `free_cnt` without `q_lock` (and
/// without touching `desc_status[]`), then under `register_lock` write IQT = 0 and set QIE.
async fn dmar_enable_qi(cx: &Cpu<'_>) {
    cx.func("__dmar_enable_qi");
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        let l = w.qlen();
        w.qi.free_head = 0;
        w.qi.free_tail = 0;
        w.qi.free_cnt = l;
        w.m.touch();
    }
    let flags = cx.spin_lock_irqsave(REGISTER_LOCK).await;
    cx.at(Site::Mmio).await;
    {
        let mut w = cx.w();
        w.hw.iqt = 0;
        w.m.touch();
    }
    cx.at(Site::Mmio).await;
    {
        let mut w = cx.w();
        w.hw.enable_qi();
        w.m.touch();
        w.ev(Ev::QiOn);
    }
    cx.spin_unlock_irqrestore(REGISTER_LOCK, flags).await;
}

/// Runs one operation.
pub async fn run_op(cx: &Cpu<'_>, op: &Op) {
    cx.op_begin();
    cx.w().hist[cx.id as usize].op_waited_ats = false;
    match op {
        Op::Flush(invs) => flush(cx, invs).await,
        Op::PrqDrain(d) => prq_drain(cx, *d).await,
        Op::Teardown(d) => teardown(cx, *d).await,
        Op::Shutdown => shutdown(cx).await,
        Op::DisableQi => kexec_init_qi(cx).await,
        Op::ReenableQi => suspend_resume(cx).await,
    }
    cx.op_end();
}

/// A CPU's whole program.
pub async fn cpu_main(cx: Cpu<'_>, prog: &Program) {
    for op in &prog.ops {
        run_op(&cx, op).await;
        if *op == Op::Shutdown {
            // The machine resets: nothing after it runs.
            break;
        }
        if cx.w().suspend.asked & (1 << cx.id) != 0 {
            offline_until_resume(&cx).await;
        }
    }
    cx.func("");
    let mut w = cx.w();
    if w.suspend.asked != 0 {
        // Wakes the CPU waiting in freeze_secondary_cpus().
        w.m.touch();
    }
}

/// Most changes of shared state a CPU sleeping in a system transition waits through: one that
/// another CPU's endless operation keeps waiting ends as that CPU's lockup first.
const SLEEP_ROUNDS: u32 = 1 << 22;

/// Sleeps until `done` holds, woken by each change of shared state; as `what` if it never does.
/// The CPU counts as waiting for others (`Hist::offline_wait`) meanwhile.
async fn sleep_until(cx: &Cpu<'_>, what: &'static str, done: impl Fn(&Vtd) -> bool) {
    cx.w().hist[cx.id as usize].offline_wait = true;
    for _ in 0..SLEEP_ROUNDS {
        cx.at(Site::Mem).await;
        if done(&cx.w()) {
            cx.w().hist[cx.id as usize].offline_wait = false;
            return;
        }
        cx.cpu_relax().await;
    }
    cx.hang(what).await;
}

/// Taken offline for suspend between two operations (`takedown_cpu()`; the dead CPU idles in
/// `play_dead()`): it runs nothing until the suspending CPU has resumed and brought it back
/// (`thaw_secondary_cpus()`), then goes on with its next operation.
async fn offline_until_resume(cx: &Cpu<'_>) {
    cx.func("play_dead");
    let thaws = {
        let mut w = cx.w();
        w.suspend.offline |= 1 << cx.id;
        // The suspending CPU never goes offline: something stays online.
        let online = w.m.cpu_bits() & !w.suspend.offline;
        w.m.irq_migrate(online);
        w.m.touch();
        w.ev(Ev::Offline);
        w.suspend.thaws
    };
    // The thaw, not the request bit: a next suspend may ask again before this CPU ran.
    sleep_until(cx, "never brought back online", |w| {
        w.suspend.thaws != thaws
    })
    .await;
    cx.w().ev(Ev::Online);
}

/// `enter_state()` (kernel/power/suspend.c) as far as QI is concerned: take
/// `system_transition_mutex` by trylock (a second suspend at the same time gets -EBUSY and does
/// nothing) and take the other CPUs offline. Then `suspend_enter()` turns interrupts off and
/// runs the syscore hooks on this CPU alone: `iommu_suspend()` and, on the way back,
/// `iommu_resume()` (see [`iommu_suspend`], [`init_iommu_hw`]). The hardware keeps its state in
/// between, as on the way back from a hibernation snapshot, so `dmar_disable_qi()` finds QI on.
async fn suspend_resume(cx: &Cpu<'_>) {
    cx.func("enter_state");
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        if w.suspend.held {
            w.ev(Ev::SuspendBusy);
            return;
        }
        w.suspend.held = true;
        w.m.touch_driver_only();
    }
    freeze_secondary_cpus(cx).await;
    // `arch_suspend_disable_irqs()`, then `syscore_suspend()` and `syscore_resume()`.
    let flags = cx.irq_save();
    iommu_suspend(cx).await;
    init_iommu_hw(cx).await;
    // `timekeeping_resume()`, a syscore hook registered after the IOMMU's and so resumed after
    // it, touches the soft-lockup watchdog: a stall in the hooks is not reported as one when
    // interrupts come back on.
    cx.touch_softlockup_watchdog();
    cx.func("suspend_enter");
    cx.irq_restore(flags).await;
    // `thaw_secondary_cpus()`, then the mutex is released.
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    w.suspend.end();
    w.suspend.thaws = w.suspend.thaws.wrapping_add(1);
    w.m.touch();
    w.ev(Ev::Thaw);
}

/// `iommu_flush_all()`: a global context-cache and a global IOTLB invalidation, one
/// `qi_submit_sync()` each (`qi_flush_context()`, `qi_flush_iotlb()`).
async fn iommu_flush_all(cx: &Cpu<'_>) {
    cx.func("iommu_flush_all");
    qi_submit_sync(cx, &[desc(DescType::Cc, 0)], 0).await;
    qi_submit_sync(cx, &[desc(DescType::Iotlb, 0)], 0).await;
}

/// `iommu_suspend()` (syscore): flush every cache, then turn translation off. Saving the fault
/// event registers touches nothing the model has.
async fn iommu_suspend(cx: &Cpu<'_>) {
    iommu_flush_all(cx).await;
    cx.func("iommu_disable_translation");
    iommu_set_translation(cx, false).await;
}

/// `init_iommu_hw()` from `iommu_resume()`: `dmar_reenable_qi()` (disable QI, then restart it
/// from slot 0 with fresh indices but the old `desc_status[]`), then `iommu_set_root_entry()`,
/// whose global flushes are the first submissions to the restarted queue: context cache, PASID
/// cache in scalable mode (the non-legacy variants, as for teardown), IOTLB. Hardware with
/// ESRTPS would skip them; the model's hardware does not have it. Then translation goes on.
async fn init_iommu_hw(cx: &Cpu<'_>) {
    dmar_disable_qi(cx).await;
    dmar_enable_qi(cx).await;
    cx.func("iommu_set_root_entry");
    qi_submit_sync(cx, &[desc(DescType::Cc, 0)], 0).await;
    if cx.w().v.api != Api::Single {
        qi_submit_sync(cx, &[desc(DescType::Pc, 0)], 0).await;
    }
    qi_submit_sync(cx, &[desc(DescType::Iotlb, 0)], 0).await;
    cx.func("iommu_enable_translation");
    iommu_set_translation(cx, true).await;
}

/// `freeze_secondary_cpus()` on the way to suspend: every other CPU goes offline, which a CPU
/// inside `qi_submit_sync()` (interrupts off, `q_lock` held) does only once its operation has
/// returned (the stopper thread cannot run before). The suspending CPU sleeps meanwhile: it is
/// not a soft lockup, and it is reported after the CPU it waits for. A CPU whose program has
/// ended counts as offline.
async fn freeze_secondary_cpus(cx: &Cpu<'_>) {
    cx.func("freeze_secondary_cpus");
    cx.op_end();
    let others = {
        let mut w = cx.w();
        let others = w.m.cpu_bits() & !(1 << cx.id);
        w.suspend.asked = others;
        w.ev(Ev::OfflineAsk);
        others
    };
    sleep_until(cx, "the other CPUs never go offline", |w| {
        (0..w.m.ncpus as usize)
            .filter(|&c| others & (1 << c) != 0)
            .all(|c| {
                w.suspend.offline & (1 << c) != 0
                    || matches!(w.m.cpus[c].run, Run::Done | Run::Stopped)
            })
    })
    .await;
    // Idle CPUs went offline too: the interrupt is this CPU's now.
    cx.w().m.irq_migrate(1 << cx.id);
    cx.op_begin();
}
