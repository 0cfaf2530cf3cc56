//! Virtual time and the kernel's watchdog thresholds.
//!
//! Time is counted in nanoseconds and only moves when a step is taken (by the step's modelled
//! cost) or when nothing can change until a timer fires, in which case the executor jumps to
//! the earliest deadline. Spinning that observes no change is never executed step by step.

/// Virtual time in nanoseconds since the run started.
pub type Time = u64;

/// One microsecond of virtual time.
pub const US: Time = 1_000;
/// One millisecond of virtual time.
pub const MS: Time = 1_000_000;
/// One second of virtual time.
pub const SEC: Time = 1_000_000_000;

/// NMI hard-lockup detector: interrupts off this long (kernel `watchdog_thresh`, 10 s).
pub const HARD_LOCKUP: Time = 10 * SEC;
/// Soft-lockup detector: no schedule() this long (2 * `watchdog_thresh`).
pub const SOFT_LOCKUP: Time = 20 * SEC;
/// RCU CPU stall warning (`CONFIG_RCU_CPU_STALL_TIMEOUT`, 21 s).
pub const RCU_STALL: Time = 21 * SEC;

/// Where a CPU is about to touch shared state; decides the cost of the step and whether the
/// CPU can run at all (a contended lock or a parked spin cannot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Site {
    /// A load or store to shared memory.
    Mem,
    /// An uncached MMIO register access.
    Mmio,
    /// An attempt to take spinlock `n`.
    Lock(u8),
    /// `cpu_relax()` in a polling loop; the executor parks it when nothing changed.
    Relax,
}

impl Site {
    /// Modelled cost of one step at this site, in nanoseconds.
    pub fn cost(self) -> Time {
        match self {
            Site::Mem => 20,
            Site::Mmio => 400,
            Site::Lock(_) => 40,
            Site::Relax => 10,
        }
    }
}

/// Renders a virtual time as seconds with microsecond precision, as kernel logs do, padded to
/// line up in a column.
pub fn fmt_time(t: Time) -> String {
    format!("{:5}.{:06}", t / SEC, (t % SEC) / US)
}

/// A virtual time as seconds with microsecond precision, unpadded (`fmt_time` trimmed): for a
/// time inside a sentence, written where it goes without a string of its own.
#[derive(Clone, Copy, Debug)]
pub struct Secs(pub Time);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:06}", self.0 / SEC, (self.0 % SEC) / US)
    }
}
