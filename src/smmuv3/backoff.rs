//! The wait of `__arm_smmu_cmdq_poll_until_msi()`, with the timing of the kernel's loop.
//!
//! The MSI wait sets up its `struct arm_smmu_queue_poll` with WFE off, so `queue_poll()` backs
//! off: nine `cpu_relax()` calls, then `udelay(delay)` with the delay doubling from 1 us, the
//! 1 s timeout checked first on every call. Around it, `smp_cond_load_relaxed()` waits on arm64
//! in `__cmpwait_relaxed()`: a WFE that the MSI write to the slot ends at once, and the
//! architected timer's event stream otherwise ends every 100 us. So a completion that lands
//! during a `udelay()` is seen only when the delay is over, a CMD_SYNC that completes up to
//! about 1.07 s after the wait began still succeeds, and the timeout is seen at about 1.07 s,
//! not at 1 s.
//!
//! The model runs the loop call by call where something can happen, and jumps over the event
//! stream's ticks that can only find the slot unwritten: the loop's state after them (its spin
//! count) follows from how many ticks went by.

use super::driver::Cpu;
use super::world::Smmuv3;
use crate::sim::clock::{Time, US};

/// `ARM_SMMU_POLL_SPIN_COUNT`: calls of `queue_poll()` per `udelay()`.
pub const POLL_SPIN_COUNT: u32 = 10;
/// `ARCH_TIMER_EVT_STREAM_PERIOD_US`: the longest a WFE sleeps without an event.
pub const EVT_STREAM: Time = 100 * US;
/// Bound on the model's wake-ups inside one wait (each is a step; the executor's step budget
/// ends a run long before).
const WAKE_LIMIT: u32 = 1 << 22;

/// `struct arm_smmu_queue_poll` with `wfe` false.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// `qp->timeout`.
    pub deadline: Time,
    /// `qp->delay`, in virtual time.
    pub delay: Time,
    /// `qp->spin_cnt`.
    pub spin: u32,
}

impl Backoff {
    /// `queue_poll_init()`, at `now`.
    pub fn new(now: Time, timeout: Time) -> Self {
        Backoff {
            deadline: now + timeout,
            delay: US,
            spin: 0,
        }
    }
}

/// The event-stream tick count at time `t` (ticks fire at multiples of [`EVT_STREAM`]).
fn tick(t: Time) -> Time {
    t / EVT_STREAM
}

/// One call of `queue_poll()` after its timeout check passed, then `__cmpwait_relaxed()`, and
/// every later call of the loop that can only find the slot unwritten: returns when the
/// caller's next read may see something, because the slot was written (a write during a
/// `udelay()` is seen when the delay is over) or because the next call times out. `done` says
/// whether the slot was written.
pub async fn wait(cx: &Cpu<'_>, qp: &mut Backoff, done: impl Fn(&Smmuv3) -> bool) {
    qp.spin += 1;
    debug_assert!(qp.spin < POLL_SPIN_COUNT, "the first calls only spin");
    for _ in 0..WAKE_LIMIT {
        if done(&cx.w()) {
            return;
        }
        // WFE until the write or a tick; each tick is a call that counts a spin. Jump to the
        // tick of the call that times out or delays, whichever comes first; a delaying call's
        // udelay() is part of the same wait (a write during it is seen at its end).
        let t0 = cx.now();
        let to_delay = Time::from(POLL_SPIN_COUNT - qp.spin);
        let to_timeout = (tick(qp.deadline) + 1).saturating_sub(tick(t0)).max(1);
        let j = to_delay.min(to_timeout);
        let tj = (tick(t0) + j) * EVT_STREAM;
        let delays = to_delay < to_timeout;
        let end = if delays { tj + qp.delay } else { tj };
        match park(cx, tj, end, &done).await {
            Some(passed) => {
                qp.spin += passed as u32;
                debug_assert!(qp.spin < POLL_SPIN_COUNT);
                return;
            }
            None if delays => {
                qp.delay *= 2;
                qp.spin = 0;
            }
            None => return,
        }
    }
}

/// Sleeps until `end`; a write seen before `tj` ends it early. Returns how many ticks went by
/// before the write, or `None` at `end`.
async fn park(
    cx: &Cpu<'_>,
    tj: Time,
    end: Time,
    done: &impl Fn(&Smmuv3) -> bool,
) -> Option<Time> {
    let t0 = cx.now();
    for _ in 0..WAKE_LIMIT {
        super::driver::relax_parked(cx, end).await;
        let now = cx.now();
        if now >= end {
            return None;
        }
        if now < tj && done(&cx.w()) {
            return Some(tick(now) - tick(t0));
        }
        // Another write to shared state, which a WFE on the slot's line does not wake for,
        // or the write during the udelay(), seen at its end.
    }
    None
}
