//! Watchdog oracle: a CPU with interrupts off past 10 s, not scheduling past 20 s, or not
//! passing an RCU quiescent state past 21 s is reported as the kernel would report it, even if
//! it finishes later.

use super::{Class, Violation};
use crate::sim::clock::{HARD_LOCKUP, RCU_STALL, SEC, SOFT_LOCKUP};
use crate::sim::cpu::{Machine, Run};

const HARD: u8 = 1;
const SOFT: u8 = 2;
const RCU: u8 = 4;

/// Checks CPU `cpu` against the thresholds at the machine's current time; each class is
/// reported once per operation.
pub fn check(m: &mut Machine, cpu: usize) -> Option<Violation> {
    let now = m.now;
    let c = &mut m.cpus[cpu];
    if c.soft_due > 0 {
        let busy = c.soft_due;
        c.soft_due = 0;
        if c.reported & SOFT == 0 {
            c.reported |= SOFT;
            let msg = format!(
                "watchdog: BUG: soft lockup - CPU#{cpu} stuck for {}s! in {}",
                busy / SEC,
                c.soft_func
            );
            let mut v = mk(Class::WatchdogSoftLockup, cpu, c.soft_func, now, msg);
            v.cause = "due".into();
            return Some(v);
        }
    }
    if matches!(c.run, Run::Done | Run::Stopped) {
        return None;
    }
    if c.irqs_off && now - c.irqs_off_since >= HARD_LOCKUP && c.reported & HARD == 0 {
        c.reported |= HARD;
        let msg = format!(
            "NMI watchdog: Watchdog detected hard LOCKUP on cpu {cpu}: interrupts off for {} s in {}",
            (now - c.irqs_off_since) / SEC,
            c.func
        );
        return Some(mk(Class::WatchdogHardLockup, cpu, c.func, now, msg));
    }
    let busy = now - c.busy_since?;
    // The soft-lockup detector is an hrtimer: it can only report once interrupts are on.
    if !c.irqs_off && busy >= SOFT_LOCKUP && c.reported & SOFT == 0 {
        c.reported |= SOFT;
        let msg = format!(
            "watchdog: BUG: soft lockup - CPU#{cpu} stuck for {}s! in {}",
            busy / SEC,
            c.func
        );
        return Some(mk(Class::WatchdogSoftLockup, cpu, c.func, now, msg));
    }
    if busy >= RCU_STALL && c.reported & RCU == 0 {
        c.reported |= RCU;
        let msg = format!(
            "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks: {{ {cpu}-... }} ({} s) in {}",
            busy / SEC,
            c.func
        );
        return Some(mk(Class::RcuStall, cpu, c.func, now, msg));
    }
    None
}

fn mk(class: Class, cpu: usize, func: &'static str, time: u64, msg: String) -> Violation {
    Violation {
        class,
        cpu: Some(cpu as u8),
        func: func.into(),
        cause: "".into(),
        time,
        msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_lockup_fires_once_after_ten_seconds_of_irqs_off() {
        let mut m = Machine::new(2);
        m.cpus[1].irqs_off = true;
        m.cpus[1].func = "qi_submit_sync";
        m.now = HARD_LOCKUP - 1;
        assert!(check(&mut m, 1).is_none());
        m.now = HARD_LOCKUP;
        let v = check(&mut m, 1).expect("fires");
        assert_eq!(v.class, Class::WatchdogHardLockup);
        assert!(v.msg.contains("hard LOCKUP on cpu 1"));
        assert!(check(&mut m, 1).is_none());
    }

    #[test]
    fn soft_lockup_due_when_interrupts_come_back_is_reported_after_the_op_ended() {
        let mut m = Machine::new(1);
        m.cpus[0].soft_due = 60 * SEC;
        m.cpus[0].soft_func = "qi_submit_sync";
        m.cpus[0].run = Run::Done;
        let v = check(&mut m, 0).expect("due report");
        assert_eq!(v.class, Class::WatchdogSoftLockup);
        assert!(v.msg.contains("stuck for 60s"));
        assert!(check(&mut m, 0).is_none());
    }

    #[test]
    fn soft_lockup_needs_interrupts_on_and_rcu_does_not() {
        let mut m = Machine::new(1);
        m.cpus[0].busy_since = Some(0);
        m.cpus[0].irqs_off = true;
        m.cpus[0].irqs_off_since = SOFT_LOCKUP + 5;
        m.now = SOFT_LOCKUP + 5;
        assert!(check(&mut m, 0).is_none());
        m.now = RCU_STALL;
        assert_eq!(check(&mut m, 0).unwrap().class, Class::RcuStall);
        m.cpus[0].irqs_off = false;
        assert_eq!(check(&mut m, 0).unwrap().class, Class::WatchdogSoftLockup);
    }
}
