//! Simulated CPUs: per-CPU scheduling state and the handle driver code runs with.
//!
//! Driver code is an `async fn` taking a [`Cx`]. Before every access to shared state it awaits
//! a yield point (`cx.at(Site::Mem).await`), which hands control back to the executor; the code
//! between two yields runs atomically. Locks, interrupt state and `cpu_relax()` live here
//! because every model needs them with the kernel's semantics.

use super::cell::{Mut, Shared};
use super::clock::{Site, Time, SOFT_LOCKUP};
use super::leaf::{Release, SpinLock};
use super::{MAX_CPUS, MAX_LOCKS};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lock owner value meaning "free".
pub const NO_OWNER: u8 = 0xff;

/// Whether a CPU still runs driver code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Running its program.
    Running,
    /// Its program returned.
    Done,
    /// Provably spinning forever in a loop whose exit depends only on local state.
    Hung,
    /// Halted by another CPU (`smp_send_stop()` before kexec, offlined for suspend).
    Stopped,
}

/// Scheduling and watchdog state of one simulated CPU.
#[derive(Clone, Copy, Debug)]
pub struct CpuState {
    /// Where the CPU yielded: decides whether it can run and what the step costs.
    pub site: Site,
    /// Running, done or hung.
    pub run: Run,
    /// Local interrupts disabled.
    pub irqs_off: bool,
    /// When interrupts were last disabled (hard-lockup watchdog).
    pub irqs_off_since: Time,
    /// Inside an operation since this time, without a schedule() (soft lockup, RCU stall).
    pub busy_since: Option<Time>,
    /// Shared-state version seen at the previous `cpu_relax()`.
    pub relax_version: u64,
    /// Parked at `cpu_relax()` until the shared-state version differs from this.
    pub park_version: Option<u64>,
    /// A parked CPU also wakes at this time (a poll loop with a timeout); 0 = never.
    pub wake_at: Time,
    /// Kernel function the CPU is in, for reports.
    pub func: &'static str,
    /// Why a hung CPU can never leave its loop.
    pub hang_reason: &'static str,
    /// Watchdog classes already reported for this CPU (bit per class).
    pub reported: u8,
    /// Interrupts came back on after this long without a schedule(): the soft-lockup hrtimer
    /// that was pending fires at once (0 = nothing due).
    pub soft_due: Time,
    /// Kernel function at the moment `soft_due` was set.
    pub soft_func: &'static str,
    /// The model's cause at the moment `soft_due` was set.
    pub soft_cause: &'static str,
}

impl CpuState {
    const IDLE: CpuState = CpuState {
        site: Site::Mem,
        run: Run::Running,
        irqs_off: false,
        irqs_off_since: 0,
        busy_since: None,
        relax_version: u64::MAX,
        park_version: None,
        wake_at: 0,
        func: "",
        hang_reason: "",
        reported: 0,
        soft_due: 0,
        soft_func: "",
        soft_cause: "",
    };

    /// True when the CPU can neither run nor be woken by a change of shared state.
    pub fn is_parked(&self, version: u64, now: Time) -> bool {
        self.site == Site::Relax
            && self.park_version == Some(version)
            && (self.wake_at == 0 || now < self.wake_at)
    }
}

/// A critical section that may leave shared state as it found it (an exclusive lock taken and
/// released around a store of the value already there). Other CPUs may run, and see the
/// intermediate values, while it is open: it only decides which version follows it.
#[derive(Clone, Copy, Debug)]
pub struct Quiet {
    /// The version when the section began.
    version: u64,
    /// The stamp when the section began.
    begin: u64,
    /// The stamp of the section's latest write.
    last: u64,
    /// No other actor wrote between the section's writes.
    clean: bool,
}

/// The machine: CPUs, locks, virtual clock and the shared-state version counter.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Per-CPU state; only the first `ncpus` are used.
    pub cpus: [CpuState; MAX_CPUS],
    /// Number of CPUs in this run.
    pub ncpus: u8,
    /// Virtual time.
    pub now: Time,
    /// Names the content of shared state: a fresh number at every write, or an earlier
    /// number again when a quiet section put back what it found (see [`Quiet`]). A spin that
    /// sees it unchanged is parked.
    pub version: u64,
    /// Writes to shared state so far: the source of fresh versions, never taken back.
    pub stamp: u64,
    /// Bumped by every change the model's enabled actions may depend on: shared state,
    /// interrupt state, CPUs finishing or hanging.
    pub epoch: u64,
    /// Owner CPU of each spinlock, or [`NO_OWNER`].
    pub locks: [u8; MAX_LOCKS],
    /// The CPU the executor is polling.
    pub current: u8,
    /// Next virtual time the watchdogs sample.
    pub wd_next: Time,
    /// Some CPU has a soft-lockup report due (interrupts just came back on).
    pub soft_due_any: bool,
    /// Virtual time a submission last returned to its caller (see [`Machine::progressed`]).
    pub last_return: Time,
    /// The model's enabled actions read the CPUs' interrupt state (an interrupt handler is an
    /// action): turning interrupts off or on bumps the epoch. A model whose variant never
    /// offers a handler step clears it, so the executor keeps its cached action list.
    pub irq_epoch: bool,
    /// The CPU (bit) that turned its interrupts on while the interrupt routed to it was raised:
    /// it takes it before it runs on (see [`Cx::irq_restore`]). The executor clears it once no
    /// interrupt is raised.
    pub irq_owed: u8,
    /// The CPU the model's device interrupt is routed to. An interrupt controller delivers an
    /// interrupt to one CPU of its affinity, not to whichever CPU has interrupts on: GICv3's
    /// `gic_set_affinity()` and ITS collections pick one CPU, x86's vector matrix allocator
    /// one APIC destination. The default affinity's pick is the first online CPU, cpu0; when
    /// its CPU goes offline or is stopped the interrupt moves to the first CPU still online
    /// (`irq_migrate_all_off_this_cpu()`) and stays there when the CPU comes back.
    pub irq_target: u8,
}

impl Machine {
    /// A machine with `ncpus` idle CPUs at time zero.
    pub fn new(ncpus: u8) -> Self {
        assert!(
            ncpus >= 1 && ncpus as usize <= MAX_CPUS,
            "ncpus out of range"
        );
        let mut m = Machine {
            cpus: [CpuState::IDLE; MAX_CPUS],
            ncpus,
            now: 0,
            version: 0,
            stamp: 0,
            epoch: 0,
            locks: [NO_OWNER; MAX_LOCKS],
            current: 0,
            wd_next: 0,
            soft_due_any: false,
            last_return: 0,
            irq_epoch: true,
            irq_owed: 0,
            irq_target: 0,
        };
        for c in m.cpus.iter_mut().skip(ncpus as usize) {
            c.run = Run::Done;
        }
        m
    }

    /// Records a change of shared state (wakes parked spinners).
    #[inline]
    pub fn touch(&mut self) {
        self.touch_driver_only();
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Records a change of shared state that the model's enabled actions never read (driver
    /// bookkeeping only the CPUs look at): wakes parked spinners like [`Machine::touch`] but
    /// keeps the executor's cached list of model actions, which would come out the same.
    #[inline]
    pub fn touch_driver_only(&mut self) {
        self.stamp += 1;
        self.version = self.stamp;
    }

    /// Opens a quiet section for the current CPU: call it before the section's first write.
    pub fn quiet_begin(&self) -> Quiet {
        Quiet {
            version: self.version,
            begin: self.stamp,
            last: self.stamp,
            clean: true,
        }
    }

    /// A write inside a quiet section: like [`Machine::touch_driver_only`], and the section
    /// stays clean only if no other actor wrote since the section's previous write.
    pub fn quiet_touch(&mut self, q: &mut Quiet) {
        q.clean &= self.stamp == q.last;
        self.touch_driver_only();
        q.last = self.stamp;
    }

    /// Closes a quiet section. `restored`: the caller's writes put back every value they
    /// changed. If no other actor wrote during it, shared state is what it was at
    /// [`Machine::quiet_begin`], and so is its version: a spinner parked before the section
    /// stays parked, since the loop it runs would read what it read then.
    ///
    /// `unseen`: no parked CPU's loop reads what the section changed in between (the caller
    /// knows which loops read it). Then a CPU that parked while the section was open read only
    /// values the section leaves as they were, and is parked at the restored version too.
    pub fn quiet_end(&mut self, q: Quiet, restored: bool, unseen: bool) {
        if !(restored && q.clean && self.stamp == q.last) {
            return;
        }
        self.version = q.version;
        if !unseen {
            return;
        }
        let me = self.current as usize;
        for (i, c) in self.cpus.iter_mut().enumerate().take(self.ncpus as usize) {
            // Every version after `begin` is one of this section's: nobody else wrote.
            let inside = matches!(c.park_version, Some(v) if v > q.begin && v <= q.last);
            if i != me && c.site == Site::Relax && inside {
                c.park_version = Some(q.version);
                c.relax_version = q.version;
            }
        }
    }

    /// A submission returned to its caller: the run made progress. The healing phase's budget
    /// counts from the latest such return, so a long but finite series of timeouts (one ATS
    /// timeout per device-TLB flush to an endpoint that cannot answer) is not a lockup.
    pub fn progressed(&mut self) {
        self.last_return = self.now;
    }

    /// The CPUs of this run as a bit mask.
    pub fn cpu_bits(&self) -> u8 {
        ((1u16 << self.ncpus) - 1) as u8
    }

    /// The CPUs of this run.
    pub fn cpus(&self) -> &[CpuState] {
        &self.cpus[..self.ncpus as usize]
    }

    /// The CPU the device interrupt is routed to, when it can take it now: its interrupts are
    /// on (or it idles, its program done) and it was not stopped.
    pub fn irq_cpu(&self) -> Option<u8> {
        let t = self.irq_target;
        let c = &self.cpus[t as usize];
        ((!c.irqs_off || c.run == Run::Done) && c.run != Run::Stopped).then_some(t)
    }

    /// CPUs in `online` (bit per CPU) are the ones left online: if the interrupt's CPU is not
    /// among them, the interrupt moves to the first that is.
    pub fn irq_migrate(&mut self, online: u8) {
        assert!(online != 0, "some CPU stays online");
        if online >> self.irq_target & 1 == 0 {
            self.irq_target = online.trailing_zeros() as u8;
            self.epoch = self.epoch.wrapping_add(1);
        }
    }
}

/// Access to the machine inside a model's world.
pub trait HasMachine {
    /// The machine.
    fn machine(&self) -> &Machine;
    /// The machine, mutably.
    fn machine_mut(&mut self) -> &mut Machine;
    /// Why `cpu` waits, as a signature field (see `World::cause`); asked when interrupts come
    /// back on with a soft lockup due, so the report names the cause of that moment.
    fn why_waiting(&self, cpu: u8) -> &'static str;
    /// True while an interrupt the model runs as a handler step is raised and not yet taken:
    /// the step is offered while this holds and the interrupt's CPU ([`Machine::irq_cpu`]) can
    /// take it.
    fn irq_raised(&self) -> bool {
        false
    }
}

/// A yield point: pending once, then ready.
#[derive(Debug)]
pub struct Yield {
    done: bool,
}

impl Future for Yield {
    type Output = ();
    #[inline]
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.done {
            Poll::Ready(())
        } else {
            self.done = true;
            Poll::Pending
        }
    }
}

/// The handle a CPU's driver code runs with: its id and the shared world.
pub struct Cx<'a, W> {
    /// CPU number.
    pub id: u8,
    cell: &'a Shared<W>,
}

// A handle is a CPU number and a reference: the primitives' futures keep a copy of it.
impl<W> Clone for Cx<'_, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W> Copy for Cx<'_, W> {}

impl<'a, W: HasMachine> Cx<'a, W> {
    /// The handle of CPU `id` on `cell`.
    pub fn new(id: u8, cell: &'a Shared<W>) -> Self {
        Cx { id, cell }
    }

    /// Borrows the world; never hold the borrow across an `.await`.
    #[inline]
    pub fn w(&self) -> Mut<'a, W> {
        self.cell.borrow_mut()
    }

    #[inline]
    fn with_cpu<R>(&self, f: impl FnOnce(&mut CpuState, Time) -> R) -> R {
        let mut w = self.cell.borrow_mut();
        let m = w.machine_mut();
        let now = m.now;
        f(&mut m.cpus[self.id as usize], now)
    }

    /// Yields before touching shared state at `site`.
    #[inline]
    pub fn at(&self, site: Site) -> Yield {
        self.set_site(site);
        Yield { done: false }
    }

    /// Where the CPU's next step is (the yield point it is about to take).
    #[inline]
    pub(super) fn set_site(&self, site: Site) {
        self.with_cpu(|c, _| c.site = site);
    }

    /// Names the kernel function now running (for reports).
    pub fn func(&self, name: &'static str) {
        self.with_cpu(|c, _| c.func = name);
    }

    /// Starts an operation: the CPU stops scheduling until [`Cx::op_end`].
    pub fn op_begin(&self) {
        self.with_cpu(|c, now| c.busy_since = Some(now));
    }

    /// `touch_softlockup_watchdog()`: the soft-lockup detector counts from now, as after a
    /// schedule(), though the operation goes on.
    pub fn touch_softlockup_watchdog(&self) {
        self.with_cpu(|c, now| {
            if c.busy_since.is_some() {
                c.busy_since = Some(now);
            }
        });
    }

    /// Ends an operation: the task may schedule again.
    pub fn op_end(&self) {
        self.with_cpu(|c, _| {
            c.busy_since = None;
            c.reported = 0;
        });
    }

    /// `local_irq_save()`: disables interrupts, returns whether they were already off.
    pub fn irq_save(&self) -> bool {
        let mut w = self.cell.borrow_mut();
        let m = w.machine_mut();
        let now = m.now;
        let c = &mut m.cpus[self.id as usize];
        let was = c.irqs_off;
        if !was {
            c.irqs_off = true;
            c.irqs_off_since = now;
            // Only the interrupt's own CPU decides whether its handler can run.
            let seen = m.irq_epoch && self.id == m.irq_target;
            m.epoch = m.epoch.wrapping_add(u64::from(seen));
        }
        was
    }

    /// `local_irq_restore(flags)`. Turning interrupts on delivers what is pending at once: the
    /// watchdog hrtimer, so a CPU that has not scheduled for the soft-lockup threshold is due a
    /// report; and the device interrupt, if it is routed to this CPU and was raised meanwhile,
    /// which this CPU then takes before its next instruction (it is owed: the executor runs it
    /// no further until the handler step ran). An interrupt raised while its CPU could take it
    /// races with that CPU's next steps instead, as its delivery latency does.
    pub fn irq_restore(&self, was_off: bool) -> Release<'a, W> {
        Release::irq_restore(*self, was_off)
    }

    /// The state change of [`Cx::irq_restore`]; true when this CPU now owes an interrupt.
    pub(super) fn irq_restore_now(&self, was_off: bool) -> bool {
        let mut w = self.cell.borrow_mut();
        let m = w.machine();
        let c = &m.cpus[self.id as usize];
        let turning_on = c.irqs_off && !was_off;
        let target = self.id == m.irq_target;
        let owed = turning_on && target && w.irq_raised();
        // The cause is asked only when a report comes due: it is a signature field, not free.
        let busy = c
            .busy_since
            .filter(|&b| turning_on && m.now - b >= SOFT_LOCKUP);
        let cause = busy.map(|_| w.why_waiting(self.id));
        let m = w.machine_mut();
        let now = m.now;
        let c = &mut m.cpus[self.id as usize];
        let mut due = false;
        if let (Some(b), Some(cause)) = (busy, cause) {
            c.soft_due = now - b;
            c.soft_func = c.func;
            c.soft_cause = cause;
            due = true;
        }
        if c.irqs_off != was_off {
            m.epoch = m.epoch.wrapping_add(u64::from(m.irq_epoch && target));
        }
        c.irqs_off = was_off;
        m.soft_due_any |= due;
        m.irq_owed |= u8::from(owed) << self.id;
        owed
    }

    /// True when this CPU's interrupts are off.
    pub fn irqs_off(&self) -> bool {
        self.with_cpu(|c, _| c.irqs_off)
    }

    /// `raw_spin_lock(l)`: waits (without running) while another CPU holds it.
    pub fn spin_lock(&self, l: u8) -> SpinLock<'a, W> {
        SpinLock::new(*self, l, false)
    }

    /// Takes lock `l`, which the executor let this CPU past only while free.
    pub(super) fn take_lock(&self, l: u8) {
        let mut w = self.w();
        let m = w.machine_mut();
        let owner = &mut m.locks[l as usize];
        assert_eq!(
            *owner, NO_OWNER,
            "executor ran cpu{} on a held lock {}",
            self.id, l
        );
        *owner = self.id;
    }

    /// `raw_spin_unlock(l)`.
    pub fn spin_unlock(&self, l: u8) -> Release<'a, W> {
        Release::unlock(*self, l, None)
    }

    /// Releases lock `l`, which this CPU holds.
    pub(super) fn release_lock(&self, l: u8) {
        let mut w = self.w();
        let m = w.machine_mut();
        assert_eq!(
            m.locks[l as usize], self.id,
            "cpu{} released lock {} it does not hold",
            self.id, l
        );
        m.locks[l as usize] = NO_OWNER;
    }

    /// `raw_spin_lock_irqsave(l, flags)`: interrupts go off before spinning for the lock.
    pub fn spin_lock_irqsave(&self, l: u8) -> SpinLock<'a, W> {
        SpinLock::new(*self, l, true)
    }

    /// `raw_spin_unlock_irqrestore(l, flags)`.
    pub fn spin_unlock_irqrestore(&self, l: u8, flags: bool) -> Release<'a, W> {
        Release::unlock(*self, l, Some(flags))
    }

    /// `cpu_relax()` in a polling loop. If no shared state changed since this CPU's previous
    /// relax, the iteration it just ran will run identically again: the CPU is parked until
    /// something changes (or `wake_at`, for loops with a timeout) instead of spinning. As with
    /// [`Cx::at`], the bookkeeping is done when the yield point is reached, in the `.await`.
    pub fn cpu_relax_until(&self, wake_at: Time) -> Yield {
        let mut w = self.w();
        let m = w.machine_mut();
        let v = m.version;
        let c = &mut m.cpus[self.id as usize];
        c.wake_at = wake_at;
        if c.relax_version == v {
            c.park_version = Some(v);
        } else {
            c.relax_version = v;
            c.park_version = None;
        }
        c.site = Site::Relax;
        Yield { done: false }
    }

    /// `cpu_relax()` in a loop with no timeout.
    pub fn cpu_relax(&self) -> Yield {
        self.cpu_relax_until(0)
    }

    /// The loop this CPU is in can never exit (its exit condition depends only on local state
    /// that has been seen to cycle): the CPU spins here forever, holding what it holds.
    pub async fn hang(&self, reason: &'static str) {
        {
            let mut w = self.cell.borrow_mut();
            let m = w.machine_mut();
            m.epoch = m.epoch.wrapping_add(1);
            let c = &mut m.cpus[self.id as usize];
            c.run = Run::Hung;
            c.hang_reason = reason;
        }
        std::future::pending::<()>().await
    }

    /// Halts every other CPU wherever it is, as `smp_send_stop()` does before kexec: it never
    /// runs again, and locks it held are released (the next kernel's locks are new memory).
    /// Returns the stopped CPUs as a bit mask.
    pub fn stop_others(&self) -> u8 {
        let mut w = self.cell.borrow_mut();
        let m = w.machine_mut();
        let mut mask = 0u8;
        for i in 0..m.ncpus as usize {
            let c = &mut m.cpus[i];
            if i != self.id as usize && matches!(c.run, Run::Running | Run::Hung) {
                c.run = Run::Stopped;
                c.busy_since = None;
                mask |= 1 << i;
            }
        }
        for l in m.locks.iter_mut() {
            if *l != NO_OWNER && mask & (1 << *l) != 0 {
                *l = NO_OWNER;
            }
        }
        // Idle CPUs halt too: this one is the only CPU left online.
        m.irq_migrate(1 << self.id);
        m.touch();
        mask
    }

    /// Current virtual time.
    pub fn now(&self) -> Time {
        self.cell.borrow().machine().now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two CPUs: cpu1 parked at `Relax` on the version it saw, cpu0 about to run a section.
    fn parked() -> Machine {
        let mut m = Machine::new(2);
        m.touch_driver_only();
        m.cpus[1].site = Site::Relax;
        m.cpus[1].relax_version = m.version;
        m.cpus[1].park_version = Some(m.version);
        m
    }

    #[test]
    fn the_interrupt_waits_for_its_own_cpu_and_moves_only_when_it_leaves() {
        let mut m = Machine::new(3);
        m.cpus[0].irqs_off = true;
        assert_eq!(
            m.irq_cpu(),
            None,
            "cpu1 and cpu2 are free, but it is routed to cpu0"
        );
        m.cpus[0].irqs_off = false;
        assert_eq!(m.irq_cpu(), Some(0));
        // cpu0 goes offline: the first CPU still online takes the interrupt over, and keeps it
        // when cpu0 comes back.
        let e = m.epoch;
        m.irq_migrate(0b110);
        assert_eq!((m.irq_target, m.irq_cpu()), (1, Some(1)));
        assert_ne!(m.epoch, e, "the model's offered handler step changes");
        m.irq_migrate(0b111);
        assert_eq!(m.irq_target, 1);
        m.cpus[1].run = Run::Stopped;
        assert_eq!(m.irq_cpu(), None, "a stopped CPU takes nothing");
        m.cpus[1].run = Run::Done;
        m.cpus[1].irqs_off = true;
        assert_eq!(
            m.irq_cpu(),
            Some(1),
            "a CPU whose program ended idles, interrupts on"
        );
    }

    #[test]
    fn a_section_that_puts_everything_back_keeps_a_parked_spinner_parked() {
        let mut m = parked();
        let v0 = m.version;
        let mut q = m.quiet_begin();
        m.quiet_touch(&mut q);
        assert!(
            !m.cpus[1].is_parked(m.version, 0),
            "the lock taken wakes it"
        );
        m.quiet_touch(&mut q);
        m.quiet_end(q, true, true);
        assert_eq!(m.version, v0);
        assert!(m.cpus[1].is_parked(m.version, 0));
        // The versions the section went through are never handed out again.
        m.touch_driver_only();
        assert!(m.version > q.last);
    }

    #[test]
    fn a_section_that_changed_something_or_saw_another_write_is_a_write() {
        for (restored, other) in [(false, false), (true, true)] {
            let mut m = parked();
            let v0 = m.version;
            let mut q = m.quiet_begin();
            m.quiet_touch(&mut q);
            if other {
                m.touch();
            }
            m.quiet_touch(&mut q);
            m.quiet_end(q, restored, true);
            assert_ne!(m.version, v0, "restored {restored}, other write {other}");
            assert!(!m.cpus[1].is_parked(m.version, 0));
        }
    }

    #[test]
    fn a_cpu_that_parked_inside_the_section_is_parked_after_it_only_if_unseen() {
        for unseen in [true, false] {
            let mut m = Machine::new(2);
            let v0 = m.version;
            let mut q = m.quiet_begin();
            m.quiet_touch(&mut q);
            // cpu1 parks on what it read while the section was open.
            m.cpus[1].site = Site::Relax;
            m.cpus[1].relax_version = m.version;
            m.cpus[1].park_version = Some(m.version);
            m.quiet_touch(&mut q);
            m.quiet_end(q, true, unseen);
            assert_eq!(m.version, v0);
            assert_eq!(m.cpus[1].is_parked(m.version, 0), unseen, "unseen {unseen}");
        }
    }
}
