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
//! Until the slot is written, the loop's course is fixed by the time the wait began: the model
//! computes when it would time out and sleeps until then, and when the write comes, it works
//! out where on that course the CPU is: in a WFE, which the write ends at once, or in a delay,
//! which it sees the end of.

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

/// The event-stream tick count at time `t` (ticks fire at multiples of [`EVT_STREAM`]).
fn tick(t: Time) -> Time {
    t / EVT_STREAM
}

/// Bound on the delays of one wait: the delay doubles from 1 us, so 31 of them pass any 1 s
/// deadline several times over.
const MAX_DELAYS: u32 = 32;

/// The course of the loop from `t0`, its first WFE (one spin counted), while the slot stays
/// unwritten: `delay(start, end)` is called for each `udelay()` in order, and may stop the walk
/// by returning true. Returns the time of the call that times out (`None` if stopped).
fn course(t0: Time, deadline: Time, mut delay: impl FnMut(Time, Time) -> bool) -> Option<Time> {
    let (mut t, mut spin, mut d) = (t0, 1, US);
    for _ in 0..MAX_DELAYS {
        // WFE until a tick, where the next call runs: it times out past the deadline, and the
        // tenth spin of a round delays.
        let to_delay = Time::from(POLL_SPIN_COUNT - spin);
        let to_timeout = (tick(deadline) + 1).saturating_sub(tick(t)).max(1);
        if to_timeout <= to_delay {
            return Some((tick(t) + to_timeout) * EVT_STREAM);
        }
        let start = (tick(t) + to_delay) * EVT_STREAM;
        if delay(start, start + d) {
            return None;
        }
        t = start + d;
        d *= 2;
        spin = 0;
    }
    debug_assert!(false, "{MAX_DELAYS} delays pass any 1 s deadline");
    Some(t)
}

/// `queue_poll()` and `__cmpwait_relaxed()` from the loop's first call on, until the caller's
/// next read may see something: the slot was written (seen at once in a WFE, at the end of a
/// delay during one), or the next call times out. `done` says whether the slot was written.
pub async fn wait(cx: &Cpu<'_>, deadline: Time, done: impl Fn(&Smmuv3) -> bool) {
    let t0 = cx.now();
    debug_assert!(t0 <= deadline, "the caller checked the timeout");
    let out = course(t0, deadline, |_, _| false).expect("not stopped");
    for _ in 0..WAKE_LIMIT {
        super::driver::relax_parked(cx, out).await;
        let now = cx.now();
        if now >= out {
            return;
        }
        // A WFE on the slot's line wakes only for a write to it.
        if !done(&cx.w()) {
            continue;
        }
        let mut during = None;
        course(t0, deadline, |start, end| {
            if (start..end).contains(&now) {
                during = Some(end);
            }
            start > now
        });
        if let Some(end) = during {
            sleep_until(cx, end).await;
        }
        return;
    }
}

/// The rest of a `udelay()`: a busy wait on the clock that no change of shared state ends.
async fn sleep_until(cx: &Cpu<'_>, end: Time) {
    for _ in 0..WAKE_LIMIT {
        if cx.now() >= end {
            return;
        }
        super::driver::relax_parked(cx, end).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::{MS, SEC};

    #[test]
    fn an_unanswered_wait_times_out_at_the_first_tick_after_twenty_delays() {
        let mut delays = Vec::new();
        let out = course(600, 600 + SEC, |s, e| {
            delays.push((s, e));
            false
        });
        assert_eq!(out, Some(1_067_700_000));
        assert_eq!(delays.len(), 20);
        assert_eq!(delays[0], (900_000, 901_000), "nine ticks, then 1 us");
        let total: Time = delays.iter().map(|(s, e)| e - s).sum();
        assert_eq!(total, ((1 << 20) - 1) * US);
        assert!(
            delays.windows(2).all(|w| w[0].1 < w[1].0),
            "in order, apart"
        );
    }

    #[test]
    fn the_walk_stops_where_it_is_told() {
        let mut n = 0;
        let r = course(0, SEC, |s, _| {
            n += 1;
            s > 100 * MS
        });
        assert_eq!(r, None);
        assert!(n < 20);
    }
}
