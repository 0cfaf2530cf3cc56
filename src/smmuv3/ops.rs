//! What a CPU can run on the SMMUv3 model: the IOMMU API callers of the incident (unmap through
//! `iotlb_sync`, SVA invalidation and mm release, an exiting process, the reboot task), the
//! client devices and their shutdown behaviour, and the fuzzable faults and environment
//! events. Plain data shared by the decoder, the JSON form and the driver.

use serde::{Deserialize, Serialize};

/// One operation of a CPU's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// `iommu_unmap()` of `pages` 4 KiB pages of `dev`'s domain → `arm_smmu_iotlb_sync()`:
    /// TLBI batch + SYNC, then the ATC batch + SYNC if the device has ATS.
    Unmap {
        /// Client device whose domain is unmapped.
        dev: u8,
        /// Pages.
        pages: u8,
    },
    /// `arm_smmu_mm_arch_invalidate_secondary_tlbs()`: non-leaf range TLBI of `pages` for the
    /// SVA ASID + SYNC, then ATC invalidation of the SVA-bound ATS devices + SYNC.
    SvaInvalidate {
        /// Pages.
        pages: u8,
    },
    /// `arm_smmu_mm_release()`: CD rewrite (CFGI_CD + SYNC) of every SVA-bound device under
    /// `devices_lock`, then TLBI_NH_ASID + SYNC, then ATC + SYNC.
    MmRelease,
    /// A process that exits (when the reboot kills it, or at once without a reboot): after
    /// `delay_ms` of the rest of its exit path, its file release unmaps `bufs` buffers of
    /// `pages` pages of `dev`, with no schedule() in between (the incident's
    /// `isp_smmu_cleanup_iova_dom` loop).
    Exit {
        /// Time the exit path takes before the unmaps.
        delay_ms: u32,
        /// Buffers unmapped.
        bufs: u8,
        /// Pages per buffer.
        pages: u8,
        /// Client device.
        dev: u8,
    },
    /// The reboot task: waits for `env:reboot`, kills processes, then `kernel_restart()`.
    Reboot,
}

/// A client device of the SMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Client {
    /// ATS enabled: unmaps also invalidate its ATC.
    pub ats: bool,
    /// Bound to the SVA mm (receives CD updates, ATC invalidation on mm release).
    #[serde(default)]
    pub sva: bool,
    /// Its driver's `.shutdown` unmaps this many pages (0: no `.shutdown` method).
    #[serde(default)]
    pub shutdown_unmaps: u8,
    /// Probed before the SMMU (uses the IOMMU API directly, no probe deferral): without a
    /// device link, `device_shutdown()` reaches it after the SMMU.
    #[serde(default)]
    pub early: bool,
}

/// A fault the fuzzer may inject once, at a moment it chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The entry at CONS is corrupted: CERROR_ILL.
    Ill,
    /// External abort fetching the entry at CONS: CERROR_ABT.
    Abt,
    /// Service Failure Mode (GERROR.SFM_ERR); the engine stops.
    Sfm,
    /// The next CMD_SYNC completion MSI write aborts (GERROR.MSI_CMDQ_ABT_ERR).
    MsiAbort,
    /// The command queue engine wedges: it never consumes again.
    Wedge,
    /// The SMMU's ATC completion timer for this device's oldest request fires now.
    AtcTimeout(u8),
}

/// An environment event the fuzzer may fire once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvEvent {
    /// The endpoint stops answering ATS invalidations.
    Hang(u8),
    /// A hung endpoint answers again.
    Recover(u8),
}

impl EnvEvent {
    /// Device it concerns.
    pub fn dev(self) -> u8 {
        match self {
            EnvEvent::Hang(d) | EnvEvent::Recover(d) => d,
        }
    }
}

/// Per-run configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// log2 of the queue size: 7 (128 entries) or 8 (256).
    pub qshift: u8,
    /// `ARM_SMMU_OPT_MSIPOLL`: CMD_SYNC completes by MSI into its own slot; else CS=SEV and
    /// the waiter polls CONS.
    pub msipoll: bool,
    /// `ARM_SMMU_FEAT_RANGE_INV`: range TLBIs instead of one per page.
    pub range_inv: bool,
    /// The SMMU's ATC invalidation completion timeout, ms.
    pub atc_timeout_ms: u32,
    /// How long the reboot command waits after killing processes, ms.
    pub grace_ms: u32,
    /// Client devices in probe order (1 to 4).
    pub clients: Vec<Client>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            qshift: 7,
            msipoll: true,
            range_inv: true,
            atc_timeout_ms: 500,
            grace_ms: 1000,
            clients: vec![Client {
                ats: true,
                sva: true,
                ..Client::default()
            }],
        }
    }
}

/// A CPU's program.
pub type Program = crate::sim::scenario::Program<Op>;
