//! Named kernel versions and patches of the SMMUv3 driver, each a set of knobs tied to commits.
//!
//! A user adds their own patch by adding one entry to [`VARIANTS`]. Where a knob cannot express
//! a patch, the driver function gets a new knob value, not a copy of the function.

use super::model::Smmuv3Model as Model;

/// Who disables the SMMU on reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `.shutdown = arm_smmu_device_shutdown`: disabled inside `device_shutdown()`.
    Device,
    /// RFC (Wang Wensheng, Oct 2025): disabled from `syscore_ops.shutdown`, after
    /// `migrate_to_reboot_cpu()`.
    Syscore,
}

/// How commands reach the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    /// The lock-free `arm_smmu_cmdq_issue_cmdlist` (587e6c10a7ce, 2019 on).
    LockFree,
    /// The pre-2019 spinlock design with CMD_SYNC completion by MSI into `sync_count`
    /// (49806599c31d, 37de98f8f1cf); `msidata_in_lock` is 0f02477d1698.
    Spinlock {
        /// MSIData is allocated under `cmdq.lock`, so it follows queue order.
        msidata_in_lock: bool,
    },
}

/// One named configuration of the driver model.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Name used on the command line.
    pub name: &'static str,
    /// Commits it reflects.
    pub commits: &'static str,
    /// One line.
    pub desc: &'static str,
    /// Command insertion design.
    pub design: Design,
    /// df180b1a4cc5: shared waiters are never erased by the exclusive unlock.
    pub fair_lock: bool,
    /// eb6c97647be2: non-leaf range TLBIs never have TTL, NUM and SCALE all 0.
    pub range_fix: bool,
    /// Shutdown path.
    pub shutdown: Shutdown,
    /// Early-probed clients are linked to the SMMU (`device_link_add`), so
    /// `device_shutdown()` reaches them before it.
    pub device_link: bool,
    /// v6.10, "Make CD programming use arm_smmu_write_entry()": a CD is rewritten by the
    /// hitless entry writer, which syncs (CFGI_CD + CMD_SYNC) after every qword step that
    /// changed something. The SVA release's quiet CD changes qword 0 (EPD0 set, S and R
    /// cleared), then qword 1 (TTB0 cleared): two syncs per master. Before it, one.
    pub cd_hitless: bool,
    /// v5.11 brought SVA to the SMMUv3 driver (`arm-smmu-v3-sva.c`: the mmu notifier's
    /// `arm_smmu_mm_invalidate_range()` and `arm_smmu_mm_release()`). Without it no process
    /// address space is bound to a device, so no SVA invalidation or mm release ever runs.
    pub sva: bool,
    /// 9ce27afc0830 (v5.2) added PCI ATS: before it no master has ATS enabled, so an unmap
    /// sends no ATC invalidation whatever the client could do.
    pub ats: bool,
    /// 6a481a95d4c1 "Add SMMUv3.2 range invalidation support" (v5.7): the driver builds range
    /// TLBIs when the SMMU has FEAT_RANGE_INV; before it, one TLBI per page on any SMMU.
    pub range_cmds: bool,
    /// True for the variant that models current upstream.
    pub upstream: bool,
}

const V7_0: Variant = Variant {
    name: "linux-7.0",
    commits: "df180b1a4cc5 eb6c97647be2 32ea2c57dc21",
    desc: "lock-free cmdq with the fair shared lock; SMMU disabled by its .shutdown in device_shutdown()",
    design: Design::LockFree,
    fair_lock: true,
    range_fix: true,
    shutdown: Shutdown::Device,
    device_link: false,
    cd_hitless: true,
    sva: true,
    ats: true,
    range_cmds: true,
    upstream: true,
};

/// The pre-2019 spinlock design (about v4.19): before ATS (v5.2), range TLBIs (v5.7), SVA
/// (v5.11) and every later fix.
const SPINLOCK_2018: Variant = Variant {
    design: Design::Spinlock {
        msidata_in_lock: false,
    },
    fair_lock: false,
    range_fix: false,
    cd_hitless: false,
    sva: false,
    ats: false,
    range_cmds: false,
    upstream: false,
    ..V7_0
};

/// Every named variant, oldest first.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "msi-seq-2018",
        commits: "49806599c31d 37de98f8f1cf (before 0f02477d1698)",
        desc: "spinlock cmdq; CMD_SYNC MSIData taken from sync_nr before cmdq.lock, polled on sync_count; no ATS, SVA or range TLBIs yet",
        ..SPINLOCK_2018
    },
    Variant {
        name: "msi-seq-2018-fix",
        commits: "0f02477d1698",
        desc: "as msi-seq-2018 with MSIData allocated under cmdq.lock, in queue order",
        design: Design::Spinlock {
            msidata_in_lock: true,
        },
        ..SPINLOCK_2018
    },
    Variant {
        name: "linux-6.4",
        commits: "587e6c10a7ce 6833b8f2e199 (before eb6c97647be2, before df180b1a4cc5)",
        desc: "SVA non-leaf range TLBI can be built with TTL=NUM=SCALE=0 (CERROR_ILL); unfair cmdq lock",
        fair_lock: false,
        range_fix: false,
        cd_hitless: false,
        upstream: false,
        ..V7_0
    },
    Variant {
        name: "linux-6.12",
        commits: "eb6c97647be2 (before df180b1a4cc5)",
        desc: "exclusive unlock stores 0, erasing shared waiters; shared_lock retries by cmpxchg",
        fair_lock: false,
        upstream: false,
        ..V7_0
    },
    V7_0,
    Variant {
        name: "rfc-syscore",
        commits: "lore 20251013063529.108949-1-wangwensheng4@huawei.com (RFC, not merged)",
        desc: "7.0 with the SMMU disabled from syscore_ops.shutdown after migrate_to_reboot_cpu()",
        shutdown: Shutdown::Syscore,
        upstream: false,
        ..V7_0
    },
    Variant {
        name: "linux-7.0-devlink",
        commits: "df180b1a4cc5 + device_link_add(client, smmu) in the client driver",
        desc: "7.0 with early-probed clients ordered before the SMMU by a device link",
        device_link: true,
        upstream: false,
        ..V7_0
    },
];

/// The variant that models current upstream.
pub fn newest() -> &'static Variant {
    crate::sim::model::newest::<Model>()
}

/// Looks a variant up by name.
pub fn by_name(name: &str) -> Option<&'static Variant> {
    crate::sim::model::by_name::<Model>(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_one_is_upstream() {
        for (i, v) in VARIANTS.iter().enumerate() {
            assert!(VARIANTS[i + 1..].iter().all(|w| w.name != v.name));
            assert!(!v.commits.is_empty() && !v.desc.is_empty());
        }
        assert_eq!(VARIANTS.iter().filter(|v| v.upstream).count(), 1);
        assert_eq!(newest().name, "linux-7.0");
        assert!(by_name("rfc-syscore").is_some_and(|v| v.shutdown == Shutdown::Syscore));
    }
}
