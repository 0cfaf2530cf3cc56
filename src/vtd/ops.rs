//! What a CPU can run: the callers of `qi_submit_sync` real kernels have, and the fuzzable
//! faults and environment events. Plain data shared by the scenario decoder, the JSON form and
//! the driver.

use serde::{Deserialize, Serialize};

/// An invalidation a caller asks for (the descriptor kinds real callers build).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Inv {
    /// `qi_flush_iotlb`.
    Iotlb,
    /// `qi_flush_dev_iotlb` for a device.
    DevTlb(u8),
    /// `qi_flush_piotlb`.
    Piotlb,
    /// `qi_flush_dev_iotlb_pasid` for a device.
    DevTlbPasid(u8),
    /// `qi_flush_context`.
    Context,
    /// `qi_global_iec`.
    Iec,
}

/// One operation of a CPU's program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Invalidate a range: `cache_tag_flush_range()` batching (v6.12+), or one `qi_flush_*`
    /// call per invalidation on older kernels.
    Flush(Vec<Inv>),
    /// `intel_iommu_drain_pasid_prq()`: count 3 with `QI_OPT_WAIT_DRAIN` (v5.8+).
    PrqDrain(u8),
    /// Device teardown: scalable mode's `intel_pasid_tear_down_entry()` (PASID cache,
    /// PASID-IOTLB, then the device-TLB flush through the teardown path's presence check; until
    /// v5.19 under `device_domain_lock`; v6.9 to v6.14 with ATS already disabled, so no
    /// device-TLB flush; from v6.13 then the PRQ drain of a device some program drains);
    /// on the legacy kernels context cache and IOTLB only.
    Teardown(u8),
    /// `intel_iommu_shutdown()`: translation off on every unit.
    Shutdown,
    /// kexec into a kdump kernel: the other CPUs are stopped wherever they are, then the new
    /// kernel's `intel_iommu_init_qi()` runs `dmar_disable_qi()` (waits up to 10 s for IQT ==
    /// IQH) and `__dmar_enable_qi()` with a fresh `q_inval`; the hardware keeps its FSTS.
    DisableQi,
    /// Suspend and resume (`enter_state()`): the other CPUs go offline, each once its current
    /// operation has returned; with interrupts off `iommu_suspend()` flushes every cache and
    /// turns translation off; `dmar_reenable_qi()` disables QI and restarts it from slot 0 with
    /// fresh indices but the old `desc_status[]`, `iommu_set_root_entry()` flushes through it
    /// and translation goes on; then the other CPUs come back and go on with their programs.
    /// A second suspend at the same time gets -EBUSY.
    ReenableQi,
}

/// A fault the fuzzer may inject once, at a moment it chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The outstanding ATS invalidation to this device times out now (ITE).
    Ite(u8),
    /// The descriptor at IQH is invalid (IQE).
    Iqe,
    /// An unexpected invalidation completion from this device (ICE).
    Ice(u8),
}

/// An environment event the fuzzer may fire once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvEvent {
    /// The endpoint stops answering ATS invalidations (still present).
    Hang(u8),
    /// A hung endpoint answers again.
    Recover(u8),
    /// Surprise removal seen by hot-plug.
    Remove(u8),
    /// Link down without a hot-plug event.
    LinkDown(u8),
}

impl EnvEvent {
    /// Device it concerns.
    pub fn dev(self) -> u8 {
        match self {
            EnvEvent::Hang(d)
            | EnvEvent::Recover(d)
            | EnvEvent::Remove(d)
            | EnvEvent::LinkDown(d) => d,
        }
    }
}

/// Per-run configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Ring length L (even, 8..=256).
    pub qlen: u16,
    /// ATS endpoints.
    pub ndevs: u8,
    /// Submit batches with any count the API accepts (0..=16), not only what in-tree callers pass.
    pub any_count: bool,
    /// ATS invalidation completion timeout in ms (PCIe ATS: 1 minute nominal).
    pub ats_timeout_ms: u32,
    /// Hardware quirk: waits aborted by ITE may still complete after ITE is cleared.
    #[serde(default)]
    pub stale_waits: bool,
    /// The queue engine fetches everything it can before an ATS request can time out (an
    /// injected ITE then waits for the fetch engine to be idle, as a real 60 s timeout would).
    /// Off, fetch depth at ITE time is a free choice (spec pitfall 5).
    #[serde(default)]
    pub eager_fetch: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            qlen: 8,
            ndevs: 1,
            any_count: false,
            ats_timeout_ms: 60_000,
            stale_waits: false,
            eager_fetch: false,
        }
    }
}

/// A CPU's program.
pub type Program = crate::sim::scenario::Program<Op>;
