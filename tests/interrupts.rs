//! Interrupt delivery in the simulation kernel, on a world with nothing but one interrupt: a
//! handler step is offered while the interrupt is raised and some CPU has interrupts on.
//! `local_irq_restore()` takes a pending interrupt at once; one raised while the CPU already
//! has interrupts on races with its next steps.

use iommufuzz::oracle::{OracleMask, Suppressions, Violation};
use iommufuzz::sim::cell::Shared;
use iommufuzz::sim::choice::{Bytes, Step};
use iommufuzz::sim::clock::{Site, Time};
use iommufuzz::sim::cpu::{Cx, HasMachine, Machine};
use iommufuzz::sim::executor::{self, End, Exec, Limits, RunOpts, World};
use std::pin::pin;

const RAISE: u8 = 0;
const HANDLER: u8 = 1;

/// One CPU, one device interrupt that the environment raises once, and a log of what ran.
struct OneIrq {
    m: Machine,
    raised: bool,
    fired: bool,
    log: Vec<&'static str>,
}

impl HasMachine for OneIrq {
    fn machine(&self) -> &Machine {
        &self.m
    }
    fn machine_mut(&mut self) -> &mut Machine {
        &mut self.m
    }
    fn why_waiting(&self, _: u8) -> &'static str {
        ""
    }
    fn irq_raised(&self) -> bool {
        self.raised
    }
}

impl World for OneIrq {
    type Action = u8;
    fn actions(&self, _: bool, out: &mut Vec<Step<u8>>) {
        if !self.fired {
            out.push(Step::Model(RAISE));
        }
        if self.raised && self.m.irq_cpu().is_some() {
            out.push(Step::Model(HANDLER));
        }
    }
    fn apply(&mut self, a: u8) {
        if a == RAISE {
            self.raised = true;
            self.fired = true;
            self.log.push("raise");
        } else {
            self.raised = false;
            self.log.push("handler");
        }
    }
    fn next_deadline(&self) -> Option<Time> {
        None
    }
    fn check(&mut self) -> Option<Violation> {
        None
    }
    fn cause(&self, _: u8) -> &'static str {
        ""
    }
}

/// With interrupts off (`irqs_off`) or on, two shared accesses, then `local_irq_restore()`
/// and one more access.
async fn program(cx: Cx<'_, OneIrq>, irqs_off: bool) {
    let flags = if irqs_off { cx.irq_save() } else { false };
    cx.at(Site::Mem).await;
    cx.w().log.push("in");
    cx.at(Site::Mem).await;
    cx.irq_restore(flags).await;
    cx.w().log.push("restored");
    cx.at(Site::Mem).await;
    cx.w().log.push("after");
}

/// Runs the program once with decisions `bytes` (a byte b picks entry b % n of the enabled
/// steps: the CPU first, then the model's) and returns the log.
fn run(irqs_off: bool, bytes: &[u8]) -> Vec<&'static str> {
    let cell = Shared::new(OneIrq {
        m: Machine::new(1),
        raised: false,
        fired: false,
        log: Vec::new(),
    });
    let sup = Suppressions::default();
    let o = RunOpts {
        limits: Limits::default(),
        mask: OracleMask::default(),
        sup: &sup,
    };
    let mut ex = Exec::default();
    {
        let f = pin!(program(Cx::new(0, &cell), irqs_off));
        let mut futs = [f];
        let end = executor::run(&cell, &mut futs, &mut Bytes::new(bytes), &o, &mut ex);
        assert_eq!(end, End::Returned);
    }
    cell.into_inner().log
}

#[test]
fn interrupt_pending_at_irq_restore_is_taken_before_the_cpu_runs_on() {
    // The CPU disables interrupts, the device raises its interrupt (byte 1), and the decisions
    // then always prefer the CPU (byte 0): the handler still runs right at the restore.
    let log = run(true, &[0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(log, ["raise", "in", "handler", "restored", "after"]);
}

#[test]
fn interrupt_raised_while_interrupts_are_on_races_with_the_cpu() {
    // Interrupts on throughout: the CPU may run on before the handler (delivery latency; here
    // it even returns first, which ends the run) ...
    let log = run(false, &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(log, ["raise", "in", "restored", "after"]);
    // ... or the handler may come first.
    let log = run(false, &[1, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(log, ["raise", "handler", "in", "restored", "after"]);
}
