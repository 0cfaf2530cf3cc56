//! Progress oracle: every submission returns within bounded virtual time once faults stop. A CPU
//! that can never leave its loop is a lockup: hard if its interrupts are off, soft otherwise.

use super::{Class, Violation};
use crate::sim::clock::{Secs, Site, Time};
use crate::sim::cpu::{CpuState, Machine, Run, NO_OWNER};
use std::fmt::Write as _;

/// What ended the run, which decides who is to blame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Nothing can change any more.
    Stuck,
    /// The healing phase spent its virtual time while steps were still possible.
    Budget,
    /// The step budget ran out first: CPUs kept stepping while virtual time barely moved.
    Steps,
}

/// How strongly a CPU is to blame: a provably hung loop first, then a parked spinner, then a
/// CPU waiting for a lock someone else holds. When the step budget ran out, a CPU waiting for
/// a timer that has not fired yet (asleep, or polling with a timeout) comes last: it only
/// waited for virtual time, which the CPUs that took the steps kept from passing.
fn blame(c: &CpuState, now: Time, why: Why) -> u8 {
    match (c.run, c.site) {
        (Run::Hung, _) => 6,
        (Run::Running, Site::Relax) if why == Why::Steps && c.wake_at > now => 1,
        (Run::Running, Site::Relax) => 4,
        (Run::Running, _) => 2,
        (Run::Done | Run::Stopped, _) => 0,
    }
}

/// The CPU to report: the most stuck one, and among equals one that is not merely a victim of
/// another (a CPU waiting for queue space the stuck one holds), and a victim before a CPU that
/// waits for victims. `victim` gives how many such waits a CPU is from its own trouble (0, 1
/// or 2).
fn culprit(m: &Machine, why: Why, victim: &dyn Fn(u8) -> u8) -> usize {
    let score = |i: usize| {
        let b = u16::from(blame(&m.cpus[i], m.now, why));
        let level = victim(i as u8);
        debug_assert!(level <= 2, "victim levels are 0, 1 and 2");
        let own = 2 - u16::from(level.min(2));
        // When the healing budget or the step budget ran out, steps were still being taken:
        // the CPUs taking them (retrying a submission, say) spent it, and one parked until
        // they leave it queue space only waited. Any unfinished CPU that is not a victim comes
        // first.
        if why != Why::Stuck && b > 0 {
            own << 3 | b
        } else {
            // 3 * b: a victim level never outweighs a difference in blame.
            3 * b + own
        }
    };
    let mut best = 0;
    for i in 1..m.cpus().len() {
        if score(i) > score(best) {
            best = i;
        }
    }
    best
}

fn lockup(
    m: &Machine,
    why: Why,
    what: &str,
    cause: &dyn Fn(u8) -> (&'static str, u8),
) -> Violation {
    let i = culprit(m, why, &|c| cause(c).1);
    let c = &m.cpus[i];
    let class = if c.irqs_off {
        Class::HardLockup
    } else {
        Class::SoftLockup
    };
    // One buffer for the whole message: a run ends in a lockup often while fuzzing, so the
    // report is written once, without intermediate strings.
    let mut msg = String::with_capacity(160);
    let _ = write!(msg, "{what}: cpu{i} ");
    let _ = match c.run {
        Run::Hung => write!(msg, "loops forever in {}: {}", c.func, c.hang_reason),
        _ => match c.site {
            Site::Lock(l) => write!(
                msg,
                "spins on lock {} held by cpu{}",
                l, m.locks[l as usize]
            ),
            _ if why == Why::Steps => write!(
                msg,
                "keeps spinning in {} while virtual time barely moves",
                c.func
            ),
            // Steps were still enabled: the CPU waits on, but its operation is overdue.
            _ if why == Why::Budget => write!(
                msg,
                "is still waiting in {} with its operation unfinished",
                c.func
            ),
            _ => write!(
                msg,
                "spins in {} and nothing it polls can change any more",
                c.func
            ),
        },
    };
    let _ = if c.irqs_off {
        write!(msg, " (interrupts off since {}", Secs(c.irqs_off_since))
    } else {
        write!(msg, " (interrupts on")
    };
    let mut first = true;
    for l in 0..m.locks.len() {
        if m.locks[l] == i as u8 && m.locks[l] != NO_OWNER {
            let _ = write!(msg, "{}lock {l}", if first { ", holding " } else { ", " });
            first = false;
        }
    }
    msg.push(')');
    Violation {
        class,
        cpu: Some(i as u8),
        func: c.func.into(),
        cause: cause(i as u8).0.into(),
        time: m.now,
        msg,
    }
}

/// No step is enabled and no timer is pending, yet some CPU has not returned.
/// `cause(cpu)` gives the signature cause and whether the CPU only waits on another.
pub fn stuck(m: &Machine, cause: impl Fn(u8) -> (&'static str, u8)) -> Violation {
    lockup(m, Why::Stuck, "no progress possible", &cause)
}

/// The healing phase went its virtual-time budget without a submission returning while some
/// CPU has not returned.
pub fn budget(m: &Machine, why: &str, cause: impl Fn(u8) -> (&'static str, u8)) -> Violation {
    lockup(m, Why::Budget, why, &cause)
}

/// The run's step budget is spent while some CPU has not returned: a livelock of CPUs that
/// keep waking each other without virtual time passing.
pub fn steps(m: &Machine, cause: impl Fn(u8) -> (&'static str, u8)) -> Violation {
    lockup(m, Why::Steps, "step budget exhausted", &cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hung_cpu_is_blamed_before_lock_waiters() {
        let mut m = Machine::new(3);
        m.cpus[0].site = Site::Lock(0);
        m.cpus[0].irqs_off = true;
        m.cpus[1].run = Run::Hung;
        m.cpus[1].irqs_off = true;
        m.cpus[1].func = "qi_check_fault";
        m.cpus[1].hang_reason = "walk";
        m.locks[0] = 1;
        m.cpus[2].run = Run::Done;
        let v = stuck(&m, |_| ("odd-walk", 0));
        assert_eq!(v.class, Class::HardLockup);
        assert_eq!(v.cpu, Some(1));
        assert!(v.msg.contains("holding lock 0"), "{}", v.msg);
        assert_eq!(v.signature(), "hard-lockup:qi_check_fault:odd-walk");
    }

    /// The healing budget ran out while one CPU kept stepping (a retry loop) and another sat
    /// parked waiting for the queue space it takes: the stepping one is reported.
    #[test]
    fn budget_blames_the_cpu_taking_steps_not_its_victim() {
        let mut m = Machine::new(2);
        m.cpus[0].site = Site::Mem;
        m.cpus[0].func = "qi_submit_sync";
        m.cpus[1].site = Site::Relax;
        m.cpus[1].func = "qi_submit_sync";
        let v = budget(&m, "budget spent", |c| {
            if c == 1 {
                ("queue-full", 1)
            } else {
                ("ite-retry-hung", 0)
            }
        });
        assert_eq!(v.cpu, Some(0));
        assert_eq!(v.signature(), "soft-lockup:qi_submit_sync:ite-retry-hung");
        // With nothing left to step, a parked victim still ranks after the parked holder.
        m.cpus[0].site = Site::Relax;
        let v = stuck(&m, |c| {
            (if c == 1 { "queue-full" } else { "x" }, u8::from(c == 1))
        });
        assert_eq!(v.cpu, Some(0));
    }

    /// Three CPUs livelock while a fourth sleeps until a timer the budget never let come: the
    /// report names a spinner, not the sleeper.
    #[test]
    fn step_budget_blames_a_spinner_not_a_cpu_asleep_until_a_timer() {
        let mut m = Machine::new(3);
        m.now = 500;
        m.cpus[0].site = Site::Relax;
        m.cpus[0].wake_at = 1000;
        m.cpus[0].func = "reboot";
        m.cpus[1].site = Site::Mem;
        m.cpus[1].func = "arm_smmu_cmdq_issue_cmdlist";
        m.cpus[2].site = Site::Relax;
        m.cpus[2].func = "arm_smmu_cmdq_issue_cmdlist";
        let v = steps(&m, |_| ("spin", 0));
        assert_eq!(v.cpu, Some(2), "{}", v.msg);
        m.cpus[2].site = Site::Mem;
        assert_eq!(steps(&m, |_| ("spin", 0)).cpu, Some(1));
        // Out of virtual time instead, the CPU whose timeout keeps recurring is the one.
        m.cpus[1].func = "reboot";
        let v = budget(&m, "budget spent", |_| ("spin", 0));
        assert_eq!(v.cpu, Some(0));
        // The budget ran out with steps still possible: the report must not claim otherwise.
        assert!(v.msg.contains("still waiting in reboot"), "{}", v.msg);
        assert!(stuck(&m, |_| ("spin", 0)).msg.contains("nothing it polls"));
    }

    #[test]
    fn irqs_on_spinner_is_a_soft_lockup() {
        let mut m = Machine::new(1);
        m.cpus[0].site = Site::Relax;
        assert_eq!(stuck(&m, |_| ("", 0)).class, Class::SoftLockup);
    }
}
