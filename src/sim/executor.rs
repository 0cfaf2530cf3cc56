//! The executor: runs CPU tasks one step at a time on one OS thread.
//!
//! At every step it lists the enabled steps (runnable CPUs, then the model's hardware, device,
//! interrupt, fault and environment actions), asks the decision source to pick one, performs
//! it, advances virtual time by its cost and runs the per-step oracles. When nothing is enabled
//! it jumps the clock to the earliest timer; when there is no timer either, the state can never
//! change again and every CPU still inside an operation is locked up. The executor allocates
//! nothing per step: its buffers live in [`Exec`] and are reused across executions.

use super::cell::Shared;
use super::choice::{Decide, Step};
use super::clock::{Site, Time, SEC};
use super::cpu::{HasMachine, Machine, Run, NO_OWNER};
use super::MAX_CPUS;
use crate::oracle::{progress, watchdog, Findings, OracleMask, Suppressions, Violation};
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Waker};

/// Period at which the watchdog oracles sample the CPUs (far below their 10 s threshold).
pub const WATCHDOG_TICK: Time = SEC / 4;

/// Virtual cost of one model action (a hardware step, a device answer, an injected fault).
pub const MODEL_STEP_COST: Time = 50;

/// What a model plugs into the executor.
pub trait World: HasMachine {
    /// A hardware, device, interrupt, fault or environment action (its label).
    type Action: Copy + Eq + Hash + Debug;
    /// Appends the model actions enabled now; faults and environment events only if `!healing`.
    /// `out` may hold entries already, which it must leave as they are.
    fn actions(&self, healing: bool, out: &mut Vec<Step<Self::Action>>);
    /// Performs one action.
    fn apply(&mut self, a: Self::Action);
    /// Earliest time at which a timer makes a new action enabled.
    fn next_deadline(&self) -> Option<Time>;
    /// Per-step oracles and invariant checks.
    fn check(&mut self) -> Option<Violation>;
    /// Why `cpu` waits (a signature field: `ats-timeout`, `odd-walk`, ...).
    fn cause(&self, cpu: u8) -> &'static str;
    /// How far `cpu` is from trouble of its own: 0 for none of the below, 1 when it only waits
    /// for something another CPU holds (reported after the holder), 2 when it waits for CPUs
    /// that may be such victims themselves (reported after them).
    fn victim(&self, _cpu: u8) -> u8 {
        0
    }
}

/// Bounds on one execution.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most steps an execution may take.
    pub max_steps: u64,
    /// Virtual time the healing phase may go on with no submission returning (and at least
    /// this long in all) before unfinished CPUs count as locked up.
    pub heal_budget: Time,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 200_000,
            heal_budget: 600 * SEC,
        }
    }
}

/// How an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Every CPU's program returned.
    Returned,
    /// An unsuppressed violation stopped the run.
    Violation,
}

/// Reusable per-execution buffers and results.
#[derive(Debug)]
pub struct Exec<A> {
    /// The enabled list is `list[first..]`: the runnable CPUs end at `MAX_CPUS`, where the
    /// model's actions begin. Rebuilding it for another set of CPUs rewrites only their part.
    list: Vec<Step<A>>,
    /// Where the enabled list starts in `list`.
    first: usize,
    model_epoch: u64,
    model_healing: bool,
    model_deadline: Time,
    /// The CPUs the enabled list holds (bit per CPU); `u8::MAX` after the model's part changed.
    enabled_cpus: u8,
    /// Every real decision taken (forced single choices are not recorded).
    pub log: Vec<Step<A>>,
    /// For each logged decision, the index chosen among the enabled steps: the byte that makes
    /// a raw input take the same decision (a byte b picks `b % n`).
    pub picks: Vec<u16>,
    /// Number of decisions taken before the healing phase began.
    pub heal_at: Option<usize>,
    /// Violations found.
    pub findings: Findings,
    /// Steps taken.
    pub steps: u64,
    /// Virtual time at the end.
    pub end_time: Time,
}

impl<A: Copy> Exec<A> {
    /// The steps enabled now: runnable CPUs in order, then the model's actions.
    #[inline(always)]
    fn enabled(&self) -> &[Step<A>] {
        &self.list[self.first..]
    }

    /// The model's part of the list.
    #[cfg(debug_assertions)]
    fn model(&self) -> &[Step<A>] {
        &self.list[MAX_CPUS..]
    }
}

impl<A: Copy> Default for Exec<A> {
    fn default() -> Self {
        Exec {
            list: vec![Step::Cpu(0); MAX_CPUS],
            first: MAX_CPUS,
            model_epoch: u64::MAX,
            model_healing: false,
            model_deadline: 0,
            enabled_cpus: u8::MAX,
            log: Vec::with_capacity(1024),
            picks: Vec::with_capacity(1024),
            heal_at: None,
            findings: Findings::default(),
            steps: 0,
            end_time: 0,
        }
    }
}

/// What the oracles do on this run.
#[derive(Clone, Copy, Debug)]
pub struct RunOpts<'a> {
    /// Execution bounds.
    pub limits: Limits,
    /// Oracle classes that are on.
    pub mask: OracleMask,
    /// Known signatures that do not stop the run.
    pub sup: &'a Suppressions,
}

#[inline(always)]
fn cpu_enabled(m: &Machine, i: usize) -> bool {
    let c = &m.cpus[i];
    if c.run != Run::Running {
        return false;
    }
    match c.site {
        Site::Lock(l) => m.locks[l as usize] == NO_OWNER,
        Site::Relax => !c.is_parked(m.version, m.now),
        Site::Mem | Site::Mmio => true,
    }
}

fn all_returned(m: &Machine) -> bool {
    m.cpus()
        .iter()
        .all(|c| matches!(c.run, Run::Done | Run::Stopped))
}

/// Earliest wake-up among parked CPUs with a poll timeout.
fn next_wake(m: &Machine) -> Option<Time> {
    m.cpus()
        .iter()
        .filter(|c| c.run == Run::Running && c.site == Site::Relax && c.wake_at > m.now)
        .map(|c| c.wake_at)
        .min()
}

/// Moves the clock to `t` and runs the watchdogs. Returns true to stop.
#[inline(always)]
fn advance<W: World>(w: &mut W, t: Time, ex: &mut Exec<W::Action>, o: &RunOpts) -> bool {
    let m = w.machine_mut();
    debug_assert!(t >= m.now, "time goes forward");
    m.now = t;
    // The kernel's watchdogs sample periodically (hrtimer, NMI); so does the model: once per
    // virtual-time tick, and at once when interrupts came back on with a soft lockup due.
    if t < m.wd_next && !m.soft_due_any {
        return false;
    }
    sample(w, t, ex, o)
}

/// A watchdog sample at time `t` (off the hot path: once per tick). Returns true to stop.
#[cold]
#[inline(never)]
fn sample<W: World>(w: &mut W, t: Time, ex: &mut Exec<W::Action>, o: &RunOpts) -> bool {
    let m = w.machine_mut();
    m.wd_next = t - t % WATCHDOG_TICK + WATCHDOG_TICK;
    m.soft_due_any = false;
    let n = m.ncpus as usize;
    for cpu in 0..n {
        let due_cause = w.machine().cpus[cpu].soft_cause;
        // Every class that came due by this sample is filed now, with the state that made it
        // due: a clock jump past several thresholds (one ATS timeout passes 10, 20 and 21 s)
        // must not leave the later classes to a sample taken after the CPU moved on.
        while let Some(mut v) = watchdog::check(w.machine_mut(), cpu) {
            v.cause = if v.cause == "due" {
                due_cause
            } else {
                w.cause(cpu as u8)
            }
            .into();
            if ex.findings.file(v, o.mask, o.sup) {
                return true;
            }
        }
    }
    false
}

/// Runs one execution to its end. `cpus[i]` is CPU i's program; all must be pinned futures of
/// one type. Results are left in `ex`.
pub fn run<W: World, F: Future<Output = ()>, D: Decide<W::Action> + ?Sized>(
    cell: &Shared<W>,
    cpus: &mut [Pin<&mut F>],
    src: &mut D,
    o: &RunOpts,
    ex: &mut Exec<W::Action>,
) -> End {
    ex.log.clear();
    ex.picks.clear();
    ex.model_epoch = u64::MAX;
    ex.enabled_cpus = u8::MAX;
    ex.heal_at = None;
    ex.findings.clear();
    ex.steps = 0;
    let end = run_loop(cell, cpus, src, o, ex);
    ex.end_time = cell.borrow().machine().now;
    end
}

fn run_loop<W: World, F: Future<Output = ()>, D: Decide<W::Action> + ?Sized>(
    cell: &Shared<W>,
    cpus: &mut [Pin<&mut F>],
    src: &mut D,
    o: &RunOpts,
    ex: &mut Exec<W::Action>,
) -> End {
    let mut cx = Context::from_waker(Waker::noop());
    // A source's healing flag only changes when it chooses (see `Decide::healing`), so it is
    // asked again only after a real choice, not on every step.
    let mut healing = src.healing();
    // Past this virtual time the healing phase has spent its budget (never, before it began).
    let mut heal_end = Time::MAX;
    if healing {
        heal_end = heal_begins(cell, ex, o);
    }
    while ex.steps < o.limits.max_steps {
        ex.steps += 1;
        collect(&*cell.borrow(), healing, ex);
        if ex.enabled().is_empty() {
            match idle(cell, ex, o) {
                Some(end) => return end,
                None => continue,
            }
        }
        let (now, last) = {
            let w = cell.borrow();
            (w.machine().now, w.machine().last_return)
        };
        if now > heal_end {
            // The budget counts from the phase's start or the latest submission's return.
            heal_end = heal_end.max(last.saturating_add(o.limits.heal_budget));
            if now > heal_end {
                return over_budget(cell, ex, o);
            }
        }
        let mut healed = false;
        let en = ex.enabled();
        let pick = if en.len() == 1 {
            en[0]
        } else {
            let i = src.choose(en);
            let s = en[i];
            healed = !healing && src.healing();
            healing |= healed;
            ex.log.push(s);
            ex.picks.push(i as u16);
            s
        };
        match perform(cell, cpus, pick, &mut cx, ex, o) {
            Performed::Stop => return End::Violation,
            // Only a CPU returning can make every CPU done.
            Performed::Returned if all_returned(cell.borrow().machine()) => {
                return finish(cell, ex, o)
            }
            _ => {}
        }
        if healed {
            // The phase begins with the next step, at the time this one left.
            heal_end = heal_begins(cell, ex, o);
        }
    }
    let v = progress::steps(cell.borrow().machine(), |c| {
        let w = cell.borrow();
        (w.cause(c), w.victim(c))
    });
    ex.findings.file(v, o.mask, o.sup);
    End::Violation
}

/// Bit i set when CPU i can run now.
#[inline(always)]
fn cpu_mask(m: &Machine) -> u8 {
    let mut mask = 0u8;
    for i in 0..m.ncpus as usize {
        mask |= u8::from(cpu_enabled(m, i)) << i;
    }
    // A CPU that owes an interrupt runs on only after its handler step.
    mask & !m.irq_owed
}

/// Lists the enabled steps. The model's actions depend only on shared state, interrupt
/// state, which CPUs run, the healing flag and timers; they are recomputed only when one of
/// those changed (the machine's epoch, or a deadline passed), not after every read-only step.
/// The whole list is rebuilt only when the model's part or the set of runnable CPUs changed.
#[inline(always)]
fn collect<W: World>(w: &W, healing: bool, ex: &mut Exec<W::Action>) {
    let m = w.machine();
    let stale =
        m.epoch != ex.model_epoch || healing != ex.model_healing || m.now >= ex.model_deadline;
    if stale {
        refresh_model(w, healing, ex);
    }
    #[cfg(debug_assertions)]
    {
        // Every state change the model's actions depend on must bump the epoch: a stale cache
        // would offer steps that are no longer possible.
        let mut fresh = Vec::new();
        w.actions(healing, &mut fresh);
        assert_eq!(
            fresh,
            ex.model(),
            "model actions changed without an epoch bump"
        );
    }
    let mask = cpu_mask(m);
    if mask != ex.enabled_cpus {
        rebuild(mask, ex);
    }
}

/// Recomputes the model's enabled actions.
#[inline(never)]
fn refresh_model<W: World>(w: &W, healing: bool, ex: &mut Exec<W::Action>) {
    let m = w.machine();
    ex.list.truncate(MAX_CPUS);
    w.actions(healing, &mut ex.list);
    ex.model_epoch = m.epoch;
    ex.model_healing = healing;
    ex.model_deadline = w.next_deadline().unwrap_or(Time::MAX);
    ex.enabled_cpus = u8::MAX;
}

/// Writes the runnable CPUs, in order, just before the model's actions.
#[inline(always)]
fn rebuild<A: Copy>(mask: u8, ex: &mut Exec<A>) {
    let mut at = MAX_CPUS;
    for i in (0..MAX_CPUS as u8).rev() {
        if mask >> i & 1 == 1 {
            at -= 1;
            ex.list[at] = Step::Cpu(i);
        }
    }
    ex.first = at;
    ex.enabled_cpus = mask;
}

/// Nothing is enabled: jump to the next timer, or end the run. `None` means continue.
fn idle<W: World>(cell: &Shared<W>, ex: &mut Exec<W::Action>, o: &RunOpts) -> Option<End> {
    if all_returned(cell.borrow().machine()) {
        return Some(finish(cell, ex, o));
    }
    let mut w = cell.borrow_mut();
    let next = match (w.next_deadline(), next_wake(w.machine())) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match next {
        Some(t) => {
            let t = t.max(w.machine().now);
            if advance(&mut *w, t, ex, o) {
                return Some(End::Violation);
            }
            None
        }
        None => {
            let v = progress::stuck(w.machine(), |c| (w.cause(c), w.victim(c)));
            ex.findings.file(v, o.mask, o.sup);
            Some(if ex.findings.violation.is_some() {
                End::Violation
            } else {
                End::Returned
            })
        }
    }
}

/// Every CPU returned: deliver watchdog reports that came due on the way out (a soft lockup
/// reported when interrupts came back on) before declaring the run clean.
fn finish<W: World>(cell: &Shared<W>, ex: &mut Exec<W::Action>, o: &RunOpts) -> End {
    let mut w = cell.borrow_mut();
    let now = w.machine().now;
    w.machine_mut().wd_next = 0;
    if advance(&mut *w, now, ex, o) {
        End::Violation
    } else {
        End::Returned
    }
}

/// The healing phase begins now: records where in the log, and returns the virtual time past
/// which its budget is spent.
#[cold]
fn heal_begins<W: World>(cell: &Shared<W>, ex: &mut Exec<W::Action>, o: &RunOpts) -> Time {
    ex.heal_at = Some(ex.log.len());
    let now = cell.borrow().machine().now;
    now.saturating_add(o.limits.heal_budget)
}

/// The healing phase spent its virtual-time budget with CPUs still inside operations.
#[cold]
fn over_budget<W: World>(cell: &Shared<W>, ex: &mut Exec<W::Action>, o: &RunOpts) -> End {
    let w = cell.borrow();
    let v = progress::budget(
        w.machine(),
        "virtual-time budget of the healing phase spent with no submission returning",
        |c| (w.cause(c), w.victim(c)),
    );
    ex.findings.file(v, o.mask, o.sup);
    End::Violation
}

/// What one step led to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Performed {
    /// A violation stops the run.
    Stop,
    /// The CPU that ran returned from its program.
    Returned,
    /// Anything else.
    Went,
}

/// Performs one step.
fn perform<W: World, F: Future<Output = ()>>(
    cell: &Shared<W>,
    cpus: &mut [Pin<&mut F>],
    pick: Step<W::Action>,
    cx: &mut Context<'_>,
    ex: &mut Exec<W::Action>,
    o: &RunOpts,
) -> Performed {
    let mut went = Performed::Went;
    let mut w = match pick {
        Step::Cpu(c) => {
            {
                let mut w = cell.borrow_mut();
                let m = w.machine_mut();
                let t = m.now + m.cpus[c as usize].site.cost();
                m.current = c;
                if advance(&mut *w, t, ex, o) {
                    return Performed::Stop;
                }
            }
            let ready = cpus[c as usize].as_mut().poll(cx).is_ready();
            let mut w = cell.borrow_mut();
            debug_assert!(
                w.machine().irq_owed == 0 || w.irq_raised(),
                "a CPU step lowered an interrupt that a CPU owes"
            );
            if ready {
                let m = w.machine_mut();
                m.epoch += 1;
                let st = &mut m.cpus[c as usize];
                st.run = Run::Done;
                st.busy_since = None;
                went = Performed::Returned;
            }
            w
        }
        Step::Model(a) => {
            let mut w = cell.borrow_mut();
            let t = w.machine().now + MODEL_STEP_COST;
            if advance(&mut *w, t, ex, o) {
                return Performed::Stop;
            }
            w.apply(a);
            w.machine_mut().touch();
            // Only a model step (the handler) lowers an interrupt: once it is taken, the CPUs
            // that owed it run on.
            if w.machine().irq_owed != 0 && !w.irq_raised() {
                w.machine_mut().irq_owed = 0;
            }
            w
        }
    };
    if let Some(v) = w.check() {
        if ex.findings.file(v, o.mask, o.sup) {
            return Performed::Stop;
        }
    }
    went
}
