//! Named kernel versions and patches of the VT-d QI driver, each a set of knobs tied to commits.
//!
//! A user adds their own patch by adding one entry to [`VARIANTS`]. Where a knob cannot express
//! a patch, the driver function gets a new knob value, not a copy of the function.

use super::model::VtdModel as Model;

/// API shape of `qi_submit_sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// One descriptor plus its wait per call (before 8a1d82462540).
    Single,
    /// `count` descriptors plus one wait (8a1d82462540, v5.8).
    Multi,
}

/// How `qi_check_fault` handles ITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IteWalk {
    /// No ITE handling (before 6ba6c3a4cacf).
    None,
    /// 6ba6c3a4cacf (2009): start at (IQH-1)|1, step -2 until IQT-1; assumes waits at odd slots.
    Odd2009,
    /// Feng v1 (Feb 2026): clear ITE and return -EAGAIN at once, nothing marked.
    DirectEagain,
    /// fe89277c9ceb (v7.0-rc5): start at IQH-1, step -1 until IQT-1.
    Step1,
}

/// What the owner does with its slots after the poll loop, and what reclaim frees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// Owner marks its invalidation slots DONE; reclaim turns DONE or ABORT into FREE.
    DoneOrAbort,
    /// 3cf74230c139 (v6.12): owner marks all its slots, wait included, FREE; reclaim only
    /// advances over FREE and stops at free_head.
    FreeOnly,
}

/// Presence check a teardown path makes before queueing a device-TLB invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerCheck {
    /// None.
    None,
    /// 4fc82cd907ac (v6.9): skip if `pci_dev_is_disconnected()`.
    Disconnected,
    /// 10e60d878139 / 42662d19839f (2026): skip if `!pci_device_is_present()`.
    Present,
}

/// Counts the in-tree callers of a variant pass to `qi_submit_sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counts {
    /// Always 1.
    One,
    /// 1, or 3 for the PRQ drain (v5.8 to v6.11).
    OneOrThree,
    /// 1..=16 from the batched cache invalidation (705c1cdf1e73, v6.12).
    Batched,
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
    /// `qi_submit_sync` shape.
    pub api: Api,
    /// 704126ad81b8: `qi_check_fault` repairs IQE when IQH is the caller's first slot.
    pub iqe_fix: bool,
    /// ITE handling.
    pub ite_walk: IteWalk,
    /// Slot release policy.
    pub reclaim: Reclaim,
    /// Before bd5cdad0c8e0 `dmar_fault()` wrote the whole FSTS back, clearing IQE/ITE/ICE.
    pub irq_clears_qi_bits: bool,
    /// 80a9b50c0b9e: ITE with an absent device returns -ETIMEDOUT.
    pub ite_presence_check: bool,
    /// 6ca69e5841f0: `qi_dump_fault()` on every poll while a QI fault bit is set.
    pub dump_fault: bool,
    /// "Omit devTLB invalidation requests when TES=0": device-TLB flushes skipped with TE off.
    pub devtlb_skip_te_off: bool,
    /// Teardown-path presence check.
    pub caller_check: CallerCheck,
    /// In-tree call counts.
    pub counts: Counts,
    /// v6.10, "Add cache tag invalidation helpers": `cache_tag_flush_range()` submits every
    /// invalidation of a range under `domain->cache_lock` with interrupts off, batched (6.12)
    /// or one call each (6.10, 6.11).
    pub cache_tag_lock: bool,
    /// 6ba6c3a4cacf to v5.19: `iommu_flush_dev_iotlb()` runs its loop over the domain's
    /// devices under the one global `device_domain_lock` (irqsave), so the device-TLB flushes
    /// of all domains serialise; v6.0 (5eaafdf0c055, a349ffcb4daf) made it the domain's own
    /// `domain->lock`.
    pub devtlb_global_lock: bool,
    /// 81e921fd3216 (v6.9) to 5518f239aff1 (v6.15): release goes through the blocking domain,
    /// and `device_block_translation()` disables ATS before the PASID tear-down, so the
    /// teardown's device-TLB flush finds `ats_enabled` clear and sends nothing.
    pub teardown_ats_off_first: bool,
    /// c43e1ccdebf2 (v6.13): `intel_pasid_tear_down_entry()` ends with
    /// `intel_iommu_drain_pasid_prq()` for a device with PRI enabled, whose device-TLB
    /// invalidation has neither the presence nor the TE check of the tear-down's own.
    pub teardown_drains_prq: bool,
    /// PASID-granular invalidations (PASID-based IOTLB and device-TLB descriptors, the
    /// extended types `QI_EIOTLB_TYPE` and `QI_DEIOTLB_TYPE`) came with the SVM support of
    /// v4.4. Before it no caller builds them: a flush that names one sends the rest only.
    pub pasid: bool,
    /// 6c3a44ed3c55 "Turn off translations at shutdown" (v5.5) added `intel_iommu_shutdown()`;
    /// before it the IOMMU is left as it is when the machine shuts down.
    pub shutdown_te_off: bool,
    /// True for the variant that models current upstream.
    pub upstream: bool,
}

const BASE_2009: Variant = Variant {
    name: "",
    commits: "",
    desc: "",
    api: Api::Single,
    iqe_fix: true,
    ite_walk: IteWalk::Odd2009,
    reclaim: Reclaim::DoneOrAbort,
    irq_clears_qi_bits: true,
    ite_presence_check: false,
    dump_fault: false,
    devtlb_skip_te_off: false,
    caller_check: CallerCheck::None,
    counts: Counts::One,
    cache_tag_lock: false,
    devtlb_global_lock: true,
    teardown_ats_off_first: false,
    teardown_drains_prq: false,
    pasid: false,
    shutdown_te_off: false,
    upstream: false,
};

const V5_8: Variant = Variant {
    api: Api::Multi,
    pasid: true,
    shutdown_te_off: true,
    irq_clears_qi_bits: false,
    counts: Counts::OneOrThree,
    ..BASE_2009
};
const V6_9: Variant = Variant {
    ite_presence_check: true,
    dump_fault: true,
    devtlb_skip_te_off: true,
    caller_check: CallerCheck::Disconnected,
    devtlb_global_lock: false,
    teardown_ats_off_first: true,
    ..V5_8
};
const V6_12: Variant = Variant {
    reclaim: Reclaim::FreeOnly,
    counts: Counts::Batched,
    cache_tag_lock: true,
    ..V6_9
};

/// Every named variant, oldest first.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "linux-2.6.31",
        commits: "704126ad81b8 6ba6c3a4cacf",
        desc: "IQE repair and the 2009 odd-slot ITE walk; one descriptor per call; dmar_fault clears all FSTS",
        ..BASE_2009
    },
    Variant {
        name: "linux-3.8",
        commits: "6ba6c3a4cacf (before bd5cdad0c8e0)",
        desc: "as 2.6.31: the fault interrupt handler writes FSTS back and clears ITE/IQE behind the waiters",
        ..BASE_2009
    },
    Variant {
        name: "linux-3.9",
        commits: "bd5cdad0c8e0",
        desc: "dmar_fault clears only PFO/PPF; QI errors are left to qi_check_fault",
        irq_clears_qi_bits: false,
        ..BASE_2009
    },
    Variant {
        name: "linux-5.8",
        commits: "8a1d82462540",
        desc: "count descriptors + 1 wait per call; wait slot left as hardware wrote it; odd-slot walk unchanged",
        ..V5_8
    },
    Variant {
        name: "linux-6.9",
        commits: "80a9b50c0b9e 4fc82cd907ac 6ca69e5841f0 81e921fd3216",
        desc: "ITE with an absent device returns -ETIMEDOUT; TE-off devTLB skip; the teardown disables ATS before its flushes",
        ..V6_9
    },
    Variant {
        name: "linux-6.11",
        commits: "READ_ONCE status poll (\"Handle volatile descriptor status read\"), cache tags (v6.10)",
        desc: "as 6.9, range flushes under cache_lock with interrupts off; a volatile status read (the model's loads are never hoisted)",
        cache_tag_lock: true,
        ..V6_9
    },
    Variant {
        name: "linux-6.12",
        commits: "3cf74230c139 705c1cdf1e73",
        desc: "owner frees all its slots incl. the wait (QI_FREE); batched invalidation with counts 1..16",
        ..V6_12
    },
    Variant {
        name: "linux-7.0",
        commits: "fe89277c9ceb 5518f239aff1 c43e1ccdebf2",
        desc: "ITE walk steps by one over every slot outside [IQH, IQT): every aborted wait is marked",
        ite_walk: IteWalk::Step1,
        teardown_ats_off_first: false,
        teardown_drains_prq: true,
        upstream: true,
        ..V6_12
    },
    Variant {
        name: "linux-7.0-guo",
        commits: "fe89277c9ceb 10e60d878139 42662d19839f",
        desc: "7.0 with the teardown paths checking pci_device_is_present() (link down without hot-plug event)",
        ite_walk: IteWalk::Step1,
        caller_check: CallerCheck::Present,
        teardown_ats_off_first: false,
        teardown_drains_prq: true,
        ..V6_12
    },
    Variant {
        name: "feng-v1",
        commits: "lore 20260202020920.3557883-1 (rejected)",
        desc: "6.12 with ITE answered by clearing it and returning -EAGAIN directly, nothing marked",
        ite_walk: IteWalk::DirectEagain,
        ..V6_12
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
    fn names_are_unique_and_the_issue_variants_exist() {
        for (i, v) in VARIANTS.iter().enumerate() {
            assert!(
                VARIANTS[i + 1..].iter().all(|w| w.name != v.name),
                "duplicate {}",
                v.name
            );
            assert!(!v.commits.is_empty() && !v.desc.is_empty());
        }
        for n in [
            "linux-2.6.31",
            "linux-3.8",
            "linux-3.9",
            "linux-5.8",
            "linux-6.9",
            "linux-6.11",
            "linux-6.12",
            "linux-7.0",
            "feng-v1",
        ] {
            assert!(by_name(n).is_some(), "{n} missing");
        }
        assert_eq!(newest().name, "linux-7.0");
    }
}
