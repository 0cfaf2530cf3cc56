//! The callers that feed the command queue: `iommu_unmap()` through `arm_smmu_iotlb_sync()`,
//! the SVA mmu-notifier paths, and an exiting process that unmaps its buffers (the incident's
//! `isp_smmu_cleanup_iova_dom`). Each mirrors the 6.18 function it names.

use super::driver::{batch_add, batch_submit, range_cmd, relax_parked, Batch, Cpu};
use super::hw::{Cmd, Opcode};
use super::world::{dma_devices_lock, Ev, DEVICES_LOCK};
use crate::sim::clock::{Site, Time, MS};

/// Most commands one range loop builds (a u8 page count needs at most two 5-bit chunks).
const MAX_RANGE_CMDS: u32 = 8;

/// `__arm_smmu_tlb_inv_range()`: per-page TLBIs, or range TLBIs in 5-bit chunks with
/// FEAT_RANGE_INV. Non-leaf (SVA) invalidations leave TTL 0; since eb6c97647be2 a page count
/// whose low chunk is exactly 1 is bumped so that NUM and SCALE are not both 0 as well.
async fn tlb_inv_range(cx: &Cpu<'_>, pages: u8, leaf: bool) {
    cx.func("__arm_smmu_tlb_inv_range");
    if pages == 0 {
        return;
    }
    let (range, fix) = {
        let w = cx.w();
        (w.range_inv && w.v.range_cmds, w.v.range_fix)
    };
    let mut b = Batch::new(cx);
    if range {
        let mut num_pages = u32::from(pages);
        if !leaf && fix && num_pages & 31 == 1 {
            num_pages += 1;
        }
        for _ in 0..MAX_RANGE_CMDS {
            if num_pages == 0 {
                break;
            }
            let scale = num_pages.trailing_zeros();
            let num = (num_pages >> scale) & 31;
            batch_add(cx, &mut b, range_cmd(leaf, scale as u8, num as u8)).await;
            num_pages -= num << scale;
        }
        assert_eq!(num_pages, 0, "range loop did not cover the pages");
    } else {
        for _ in 0..pages {
            batch_add(cx, &mut b, Cmd::new(Opcode::TlbiNhVa, 0)).await;
        }
    }
    batch_submit(cx, b, "__arm_smmu_tlb_inv_range").await;
}

/// `arm_smmu_atc_inv_domain()`: after the TLBI's SYNC, one ATC_INV per ATS master of the
/// domain, gathered under the domain's `devices_lock` (irqsave, lock `lock`), then submitted
/// with a SYNC.
async fn atc_inv_domain(cx: &Cpu<'_>, devs: u8, lock: u8) {
    let ats = {
        let w = cx.w();
        // Before 9ce27afc0830 (v5.2) the driver enables ATS on no master: no ATC to invalidate.
        let enabled = if w.v.ats { w.ndevs() } else { 0 };
        (0..enabled).fold(0u8, |m, d| {
            m | (u8::from(w.clients[d as usize].ats && devs & (1 << d) != 0) << d)
        })
    };
    // nr_ats_masters == 0: nothing to do (read after the TLBI's SYNC, cdb8a3c34635).
    if ats == 0 {
        return;
    }
    cx.func("arm_smmu_atc_inv_domain");
    let mut b = Batch::new(cx);
    let flags = cx.spin_lock_irqsave(lock).await;
    for d in 0..8 {
        if ats & (1 << d) != 0 {
            batch_add(cx, &mut b, Cmd::new(Opcode::AtcInv, d)).await;
        }
    }
    cx.spin_unlock_irqrestore(lock, flags).await;
    batch_submit(cx, b, "arm_smmu_atc_inv_domain").await;
}

fn sva_devs(cx: &Cpu<'_>) -> u8 {
    let w = cx.w();
    (0..w.ndevs()).fold(0, |m, d| m | (u8::from(w.clients[d as usize].sva) << d))
}

/// `iommu_unmap()` → `arm_smmu_iotlb_sync()` → `arm_smmu_tlb_inv_range_domain()`.
pub async fn iommu_unmap(cx: &Cpu<'_>, dev: u8, pages: u8) {
    cx.func("iommu_unmap");
    tlb_inv_range(cx, pages, true).await;
    atc_inv_domain(cx, 1 << dev, dma_devices_lock(dev)).await;
}

/// `arm_smmu_mm_arch_invalidate_secondary_tlbs()`: non-leaf range on the SVA ASID, then ATC.
pub async fn sva_invalidate(cx: &Cpu<'_>, pages: u8) {
    if !cx.w().v.sva {
        // Before v5.11 the driver registers no mmu notifier: this caller does not exist.
        return;
    }
    cx.func("arm_smmu_mm_arch_invalidate_secondary_tlbs");
    tlb_inv_range(cx, pages, false).await;
    atc_inv_domain(cx, sva_devs(cx), DEVICES_LOCK).await;
}

/// `arm_smmu_mm_release()`: every bound master's CD is rewritten to the quiet SVA CD, then
/// `arm_smmu_tlb_inv_asid()` and the ATC. With the hitless writer (`Variant::cd_hitless`,
/// v6.10) the rewrite runs under `devices_lock` and each master's write is synced on its own,
/// twice (CFGI_CD + SYNC per qword step). Before it, `arm_smmu_write_ctx_desc()` wrote the
/// quiet CD once and `arm_smmu_sync_cd()` gathered one CFGI_CD per master under
/// `devices_lock`, dropped it, and submitted the whole batch with one SYNC.
pub async fn mm_release(cx: &Cpu<'_>) {
    if !cx.w().v.sva {
        // Before v5.11 no mm is bound to a device, so its exit calls nothing here.
        return;
    }
    cx.func("arm_smmu_mm_release");
    {
        // One mm, one release: a second mm-release in a scenario stands for nothing the
        // kernel can do (before 6.10 the same was said by `smmu_mn->cleared`).
        let mut w = cx.w();
        if w.mm_released {
            return;
        }
        w.mm_released = true;
    }
    let devs = sva_devs(cx);
    if cx.w().v.cd_hitless {
        write_cd_entries(cx, devs).await;
    } else {
        sync_cd_gathered(cx, devs).await;
    }
    cx.func("arm_smmu_tlb_inv_asid");
    let mut b = Batch::new(cx);
    batch_add(cx, &mut b, Cmd::new(Opcode::TlbiNhAsid, 0)).await;
    batch_submit(cx, b, "arm_smmu_tlb_inv_asid").await;
    atc_inv_domain(cx, devs, DEVICES_LOCK).await;
}

/// v6.10+: `arm_smmu_write_cd_entry()` for each master under `devices_lock`, each qword step
/// synced by `arm_smmu_sync_cd(master)`: qword 0 (EPD0), then qword 1 (TTB0).
async fn write_cd_entries(cx: &Cpu<'_>, devs: u8) {
    let flags = cx.spin_lock_irqsave(DEVICES_LOCK).await;
    for d in 0..8 {
        if devs & (1 << d) == 0 {
            continue;
        }
        for _ in 0..2 {
            let mut b = Batch::new(cx);
            batch_add(cx, &mut b, Cmd::new(Opcode::CfgiCd, d)).await;
            batch_submit(cx, b, "arm_smmu_sync_cd").await;
        }
    }
    cx.spin_unlock_irqrestore(DEVICES_LOCK, flags).await;
}

/// Before v6.10: `arm_smmu_sync_cd(smmu_domain)` (batched since 5.7) gathers the domain's
/// CFGI_CDs under `devices_lock` and submits them with one SYNC after dropping it. The same
/// loop as `atc_inv_domain`'s, kept apart on purpose: sharing one helper puts another `async`
/// level under every unmap and costs 1.7% of the SMMUv3 workload's instructions.
async fn sync_cd_gathered(cx: &Cpu<'_>, devs: u8) {
    let mut b = Batch::new(cx);
    let flags = cx.spin_lock_irqsave(DEVICES_LOCK).await;
    for d in 0..8 {
        if devs & (1 << d) != 0 {
            batch_add(cx, &mut b, Cmd::new(Opcode::CfgiCd, d)).await;
        }
    }
    cx.spin_unlock_irqrestore(DEVICES_LOCK, flags).await;
    batch_submit(cx, b, "arm_smmu_sync_cd").await;
}

/// Sleeps until virtual time `t` (the task is off the CPU: it schedules).
pub async fn sleep_until(cx: &Cpu<'_>, t: Time) {
    for _ in 0..1u32 << 20 {
        if cx.now() >= t {
            return;
        }
        relax_parked(cx, t).await;
    }
}

/// Sleeps until `f` holds (a wait queue the task sleeps on).
pub async fn sleep_on(cx: &Cpu<'_>, f: impl Fn(&super::world::Smmuv3) -> bool) {
    cx.at(Site::Mem).await;
    for _ in 0..1u32 << 20 {
        if f(&cx.w()) {
            return;
        }
        relax_parked(cx, 0).await;
    }
}

/// An exiting process: killed by the reboot (or exiting on its own without one), the rest of
/// its exit path takes `delay_ms`, then `release()` unmaps its buffers in one go.
pub async fn exit_process(cx: &Cpu<'_>, delay_ms: u32, bufs: u8, pages: u8, dev: u8) {
    cx.func("do_exit");
    if cx.w().reboot.present {
        sleep_on(cx, |w| w.reboot.sigkill).await;
    }
    let t = cx.now() + Time::from(delay_ms) * MS;
    sleep_until(cx, t).await;
    cx.w().ev(Ev::Exiting);
    cx.op_begin();
    for _ in 0..bufs {
        iommu_unmap(cx, dev, pages).await;
    }
    cx.op_end();
}
