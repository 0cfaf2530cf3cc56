//! The shared state of one VT-d run: machine, queue hardware, the driver's `struct q_inval`,
//! ghost state for the oracles, the trace, and the labelled actions the executor chooses among.

use super::hw::{self, DevState, Effect, Iq, Phase, MAX_L};
use super::label::Act;
use super::ops::{Config, EnvEvent, Fault};
use super::variants::Variant;
use crate::oracle::{Class, Violation};
use crate::sim::choice::Step;
use crate::sim::clock::{Site, Time, MS};
use crate::sim::cpu::{HasMachine, Machine, NO_OWNER};
use crate::sim::executor::World;
use crate::sim::scenario::{fill, offers};
use crate::sim::trace::{Actor, Trace};

/// `desc_status[]` values.
pub mod st {
    /// Slot free.
    pub const QI_FREE: u8 = 0;
    /// Owned by a submitter.
    pub const QI_IN_USE: u8 = 1;
    /// Completed (written by hardware for waits).
    pub const QI_DONE: u8 = 2;
    /// Wait aborted by ITE handling.
    pub const QI_ABORT: u8 = 3;
}

/// `q_lock`.
pub const Q_LOCK: u8 = 0;
/// `iommu->register_lock`.
pub const REGISTER_LOCK: u8 = 1;
/// `device_domain_lock` (before v6.0; see `Variant::devtlb_global_lock`).
pub const DEVICE_DOMAIN_LOCK: u8 = 2;
/// The first per-domain lock: `domain->lock` (v6.0 to v6.9) or `domain->cache_lock` (v6.10+)
/// of domain k is `DOMAIN_LOCK + k`, a domain being named by its lowest device
/// (see [`Vtd::domain`]).
pub const DOMAIN_LOCK: u8 = 3;
const _: () = assert!(DOMAIN_LOCK as usize + hw::MAX_DEVS <= crate::sim::MAX_LOCKS);
/// Most faults and environment events a scenario lists.
pub const MAX_EVENTS: usize = 4;
/// Most `qi_submit_sync` calls a run tracks.
pub const MAX_SUBS: usize = 512;

/// The driver's `struct q_inval` (and the `gcmd` shadow it consults).
#[derive(Clone, Debug)]
pub struct QInval {
    /// `desc_status[]`: driver bookkeeping and hardware status-write target at once.
    pub status: [u8; MAX_L],
    /// `free_head`.
    pub free_head: u16,
    /// `free_tail`.
    pub free_tail: u16,
    /// `free_cnt`.
    pub free_cnt: u16,
    /// `iommu->gcmd & DMA_GCMD_TE` (the software shadow).
    pub gcmd_te: bool,
}

/// One `qi_submit_sync` call, for the ghost oracles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sub {
    /// Caller CPU.
    pub cpu: u8,
    /// Number of invalidations.
    pub count: u8,
    /// Bit k: invalidation k ran on hardware after it was queued.
    pub executed: u32,
    /// Bit k: invalidation k is a device-TLB invalidation whose ATS request timed out (ITE):
    /// the hardware terminated it without the endpoint confirming.
    pub timed_out: u32,
    /// Still inside `qi_submit_sync`.
    pub live: bool,
    /// Restarts after -EAGAIN.
    pub restarts: u16,
    /// Slot of the wait of the current attempt.
    pub wait: u16,
    /// The hardware dropped the current attempt's wait on an ITE (no status write).
    pub wait_dropped: bool,
}

/// Who cleared FSTS.ITE last (for signatures of waits the hardware dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IteClearer {
    /// Nobody yet.
    #[default]
    None,
    /// `qi_check_fault()` before its abort walk.
    Walk,
    /// `qi_check_fault()` returning -EAGAIN without marking (Feng v1).
    Direct,
    /// The fault interrupt handler's FSTS write-back.
    Irq,
}

/// A suspend (`enter_state()`) as the other CPUs see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Suspend {
    /// `system_transition_mutex` is held: a suspend is under way.
    pub held: bool,
    /// CPUs (bit per CPU) asked to go offline once their current operation returns.
    pub asked: u8,
    /// CPUs (bit per CPU) offline now, waiting for the resume.
    pub offline: u8,
    /// Resumes so far (`thaw_secondary_cpus()`): an offline CPU waits for the next one.
    pub thaws: u32,
}

impl Suspend {
    /// The suspend is over: nothing is asked to go offline or is offline any more.
    pub fn end(&mut self) {
        let thaws = self.thaws;
        *self = Suspend {
            thaws,
            ..Suspend::default()
        };
    }
}

/// Trace events of the VT-d model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ev {
    /// `qi_submit_sync` entered for submission `sub` with `count` invalidations.
    Call { sub: u16, count: u8 },
    /// Slots first..=w written, wait at w.
    Claim { first: u16, w: u16 },
    /// IQT written.
    Iqt(u16),
    /// CPU wrote `desc_status[slot] := val`.
    Status { slot: u16, val: u8 },
    /// The poll loop read `desc_status[slot]` and found `val` (logged when it changes).
    Poll { slot: u16, val: u8 },
    /// Reclaim moved free_tail to `tail`.
    Reclaim { tail: u16 },
    /// `qi_check_fault` read FSTS with QI error bits set (`qi_dump_fault` print).
    Fault(u8),
    /// CPU wrote FSTS (RW1C).
    ClearFsts(u8),
    /// IQE repaired: wait copied over slot.
    IqeFix(u16),
    /// ITE walk starts at `head`, stops at `tail`.
    Walk { head: u16, tail: u16 },
    /// Restart after -EAGAIN.
    Restart,
    /// `qi_submit_sync` returned.
    Ret(i8),
    /// A device-TLB flush was skipped (TE off or device absent).
    Skip(u8),
    /// Translation disabled.
    TeOff,
    /// Translation enabled again (resume).
    TeOn,
    /// QI disabled (`dmar_disable_qi`); `true` when IQT == IQH was reached, `false` on timeout.
    QiOff(bool),
    /// QI enabled again from slot 0 (`__dmar_enable_qi`).
    QiOn,
    /// The other CPUs were stopped wherever they were (kexec, shutdown); bit mask.
    StopOthers(u8),
    /// `freeze_secondary_cpus()`: the other CPUs are asked to go offline.
    OfflineAsk,
    /// This CPU went offline (its operation returned).
    Offline,
    /// This CPU is back online after the resume.
    Online,
    /// `thaw_secondary_cpus()`: the resumed CPU brings the others back.
    Thaw,
    /// `enter_state()`: another suspend holds `system_transition_mutex`; -EBUSY.
    SuspendBusy,
    /// Waiting for free slots.
    QueueFull,
    /// Hardware fetched slot.
    Fetch(u16),
    /// Hardware executed slot.
    Exec(u16),
    /// ATS request for slot sent to device.
    AtsSent(u16, u8),
    /// Device answered the request of slot.
    AtsDone(u16, u8),
    /// Wait at slot wrote QI_DONE into desc_status[status].
    StatusWrite { slot: u16, status: u16 },
    /// Wait without status write completed.
    WaitDone(u16),
    /// ITE on slot's request to dev; waits dropped.
    Ite { slot: u16, dev: u8, dropped: u8 },
    /// IQE at slot.
    Iqe(u16),
    /// ICE.
    Ice(u16),
    /// Injected fault.
    Inject(Fault),
    /// Environment event.
    Env(EnvEvent),
    /// `dmar_fault()` wrote FSTS back.
    IrqClears(u8),
    /// Queue state snapshot.
    Snap(Snap),
}

/// Queue state at a decisive step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Snap {
    /// IQH.
    pub iqh: u16,
    /// IQT.
    pub iqt: u16,
    /// free_head.
    pub head: u16,
    /// free_tail.
    pub tail: u16,
    /// free_cnt.
    pub cnt: u16,
    /// FSTS QI bits.
    pub fsts: u8,
    /// desc_status of slots 0..32, 2 bits each.
    pub status: u64,
}

/// The world of one VT-d run.
pub struct Vtd {
    /// Machine: CPUs, locks, clock.
    pub m: Machine,
    /// Queue hardware.
    pub hw: Iq,
    /// Driver queue state.
    pub qi: QInval,
    /// Driver variant.
    pub v: &'static Variant,
    /// Configuration.
    pub cfg: Config,
    /// Devices with PRI enabled (bit per device): those a program drains the page request
    /// queue of (`intel_iommu_drain_pasid_prq()` returns at once for any other).
    pub pri: u8,
    /// Per device, the domain its DMA (RID) translation is attached to, named by the domain's
    /// lowest device: the devices one range flush invalidates the device TLBs of.
    pub domain: [u8; hw::MAX_DEVS],
    /// Ghost: submission owning each slot (0 = none).
    pub owner: [u16; MAX_L],
    /// Ghost: submissions, index = id (0 unused).
    pub subs: Vec<Sub>,
    /// Trace.
    pub trace: Trace<Ev>,
    /// Faults the input lists; bit i of `faults_used` once fault i fired.
    pub faults: [Option<Fault>; MAX_EVENTS],
    /// Which listed faults fired.
    pub faults_used: u8,
    /// Environment events the input lists.
    pub env: [Option<EnvEvent>; MAX_EVENTS],
    /// Which listed events fired.
    pub env_used: u8,
    /// Listed faults that are offered as steps when enabled: unused, and the first unused
    /// entry of their value (two identical entries are one action until the first fires).
    /// Kept by [`Vtd::list_events`] and updated when one fires.
    fault_offer: u8,
    /// The same for environment events.
    env_offer: u8,
    /// A violation found inside a step, reported by `check()`.
    pub pending: Option<Violation>,
    /// `qi_dump_fault` prints (observable: printing with interrupts off).
    pub prints: u32,
    /// Per CPU, what its latest `qi_submit_sync` call went through (for signatures).
    pub hist: [Hist; crate::sim::MAX_CPUS],
    /// Who cleared ITE last.
    pub ite_clearer: IteClearer,
    /// A slot was written over before the engine fetched what it held (slot-reuse `claim`).
    pub overwritten: bool,
    /// The suspend under way, if any.
    pub suspend: Suspend,
    /// The fault handler's write-back cleared an IQE that no `qi_check_fault()` repaired
    /// (before bd5cdad0c8e0): the engine fetches the same invalid descriptor again, and the
    /// handler clears that IQE too, behind the pollers.
    pub iqe_cleared_by_irq: bool,
    /// Per device, ATS completion timeouts that ran out so far in the run (real timer fires,
    /// not injected ITEs): a hung endpoint timing out again is a turn of the retry loop.
    pub ats_timeouts: [u16; hw::MAX_DEVS],
    /// Shared-state version the invariants were last checked at.
    pub checked_version: u64,
}

/// What a CPU's latest `qi_submit_sync` call went through.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hist {
    /// Restarts after -EAGAIN.
    pub restarts: u16,
    /// It waited while an ATS completion timer ran out (a real timeout, not an injected one).
    pub waited_ats: bool,
    /// Some call of the CPU's current operation did (kept across its calls: the soft-lockup
    /// and RCU watchdogs measure the whole operation).
    pub op_waited_ats: bool,
    /// Device of the latest ITE during the call.
    pub ite_dev: Option<u8>,
    /// Waiting for free slots (`free_cnt < count + 2`).
    pub queue_full: bool,
    /// Waiting for the other CPUs to go offline (suspend), or offline until the resume: only
    /// for what another CPU is doing.
    pub offline_wait: bool,
}

impl HasMachine for Vtd {
    fn machine(&self) -> &Machine {
        &self.m
    }
    fn machine_mut(&mut self) -> &mut Machine {
        &mut self.m
    }
    fn why_waiting(&self, cpu: u8) -> &'static str {
        self.why(cpu)
    }
    /// The fault event is a handler step only for variants whose `dmar_fault()` writes QI
    /// state (see [`Vtd::irq_action`]).
    #[inline]
    fn irq_raised(&self) -> bool {
        self.hw.irq_pending && self.v.irq_clears_qi_bits
    }
}

impl Vtd {
    /// A fresh world.
    pub fn new(v: &'static Variant, cfg: Config, ncpus: u8) -> Self {
        let mut w = Vtd {
            m: Machine::new(ncpus),
            hw: Iq::new(cfg.qlen, cfg.ndevs, 0),
            qi: QInval {
                status: [0; MAX_L],
                free_head: 0,
                free_tail: 0,
                free_cnt: 0,
                gcmd_te: true,
            },
            v,
            cfg,
            pri: 0,
            domain: std::array::from_fn(|d| d as u8),
            owner: [0; MAX_L],
            subs: Vec::with_capacity(64),
            trace: Trace::new(1 << 16),
            faults: [None; MAX_EVENTS],
            faults_used: 0,
            env: [None; MAX_EVENTS],
            env_used: 0,
            fault_offer: 0,
            env_offer: 0,
            pending: None,
            prints: 0,
            hist: [Hist::default(); crate::sim::MAX_CPUS],
            ite_clearer: IteClearer::None,
            overwritten: false,
            suspend: Suspend::default(),
            iqe_cleared_by_irq: false,
            ats_timeouts: [0; hw::MAX_DEVS],
            checked_version: u64::MAX,
        };
        w.reset(v, cfg, ncpus);
        w
    }

    /// Reinitialises for a new run, keeping buffers.
    pub fn reset(&mut self, v: &'static Variant, cfg: Config, ncpus: u8) {
        self.m = Machine::new(ncpus);
        // Only a variant whose fault handler clears QI bits offers it as a step (`irq_action`).
        self.m.irq_epoch = v.irq_clears_qi_bits;
        // Slots at or past the ring length are never written (every index is taken modulo
        // it), so only the previous run's ring needs clearing: in place, not a 256-slot copy.
        let dirty = self.hw.len as usize;
        self.hw
            .reset(cfg.qlen, cfg.ndevs, u64::from(cfg.ats_timeout_ms) * MS);
        self.hw.stale_waits = cfg.stale_waits;
        self.qi.status[..dirty].fill(0);
        self.qi.free_head = 0;
        self.qi.free_tail = 0;
        self.qi.free_cnt = cfg.qlen;
        self.qi.gcmd_te = true;
        self.owner[..dirty].fill(0);
        debug_assert!(self.qi.status.iter().all(|&s| s == 0));
        debug_assert!(self.owner.iter().all(|&o| o == 0));
        self.v = v;
        self.cfg = cfg;
        self.subs.clear();
        self.subs.push(Sub::default());
        self.trace.clear();
        self.faults = [None; MAX_EVENTS];
        self.faults_used = 0;
        self.env = [None; MAX_EVENTS];
        self.env_used = 0;
        self.fault_offer = 0;
        self.env_offer = 0;
        self.pending = None;
        self.prints = 0;
        self.hist = [Hist::default(); crate::sim::MAX_CPUS];
        self.ite_clearer = IteClearer::None;
        self.overwritten = false;
        self.suspend = Suspend::default();
        self.iqe_cleared_by_irq = false;
        self.ats_timeouts = [0; hw::MAX_DEVS];
        self.pri = 0;
        self.domain = std::array::from_fn(|d| d as u8);
        self.checked_version = u64::MAX;
    }

    /// Ring length.
    #[inline]
    pub fn qlen(&self) -> u16 {
        self.hw.len
    }

    /// Appends a trace event by the current CPU.
    #[inline]
    pub fn ev(&mut self, e: Ev) {
        let who = Actor::Cpu(self.m.current);
        self.trace.push(self.m.now, who, e);
    }

    fn ev_as(&mut self, who: Actor, e: Ev) {
        self.trace.push(self.m.now, who, e);
    }

    /// The queue state now: registers, driver indices, `desc_status[]` of the first 32 slots.
    pub fn snapshot(&self) -> Snap {
        let mut status = 0u64;
        for i in 0..(self.qlen() as usize).min(32) {
            status |= u64::from(self.qi.status[i] & 3) << (2 * i);
        }
        Snap {
            iqh: self.hw.iqh,
            iqt: self.hw.iqt,
            head: self.qi.free_head,
            tail: self.qi.free_tail,
            cnt: self.qi.free_cnt,
            fsts: self.hw.fsts,
            status,
        }
    }

    /// Records the queue state in the trace.
    pub fn snap(&mut self, who: Actor) {
        if !self.trace.on {
            return;
        }
        let s = self.snapshot();
        self.ev_as(who, Ev::Snap(s));
    }

    /// Files a violation found inside a step (the first one wins).
    pub fn violate(&mut self, class: Class, func: &'static str, cause: &'static str, msg: String) {
        if self.pending.is_none() {
            let cpu = Some(self.m.current);
            let v = Violation {
                class,
                cpu,
                func: func.into(),
                cause: cause.into(),
                time: self.m.now,
                msg,
            };
            self.pending = Some(v);
        }
    }

    /// Starts a ghost submission record.
    pub fn new_sub(&mut self, cpu: u8, count: u8) -> u16 {
        if self.subs.len() >= MAX_SUBS {
            // Keep tracking bounded: reuse the last record (oracles stay sound, less precise).
            let id = (MAX_SUBS - 1) as u16;
            self.subs[id as usize] = Sub {
                cpu,
                count,
                live: true,
                ..Sub::default()
            };
            return id;
        }
        self.subs.push(Sub {
            cpu,
            count,
            live: true,
            ..Sub::default()
        });
        (self.subs.len() - 1) as u16
    }

    /// CPU writes `desc_status[slot] := val` on behalf of submission `me`.
    pub fn set_status(&mut self, slot: u16, val: u8, me: u16) {
        if val == st::QI_FREE {
            self.ghost_free(slot, me);
        }
        self.qi.status[slot as usize] = val;
        // `desc_status[]` is not an input of `actions()`: only spinners need waking.
        self.m.touch_driver_only();
        self.ev(Ev::Status { slot, val });
    }

    /// CPU writes a descriptor into `slot` for submission `me`.
    pub fn write_slot(&mut self, slot: u16, d: hw::Desc, me: u16) {
        self.ghost_claim(slot, me);
        self.hw.ring[slot as usize] = d;
        self.owner[slot as usize] = me;
        // The model's actions read the ring only at IQH, and only while IQH != IQT: a slot
        // outside [IQH, IQT) is invisible to the hardware until IQT moves past it.
        if self.hw.fetchable(slot) {
            self.m.touch();
        } else {
            self.m.touch_driver_only();
        }
    }

    /// Lists the input's faults and environment events for the run that starts.
    pub fn list_events(&mut self, faults: &[Fault], env: &[EnvEvent]) {
        assert!(faults.len() <= MAX_EVENTS && env.len() <= MAX_EVENTS);
        fill(&mut self.faults, faults);
        fill(&mut self.env, env);
        self.update_offers();
    }

    /// Recomputes which listed entries are offered (see `fault_offer`).
    fn update_offers(&mut self) {
        self.fault_offer = offers(&self.faults, self.faults_used);
        self.env_offer = offers(&self.env, self.env_used);
    }

    fn fault_index(&self, f: Fault) -> Option<usize> {
        (0..MAX_EVENTS).find(|&i| self.faults[i] == Some(f) && self.faults_used & (1 << i) == 0)
    }

    fn env_index(&self, e: EnvEvent) -> Option<usize> {
        (0..MAX_EVENTS).find(|&i| self.env[i] == Some(e) && self.env_used & (1 << i) == 0)
    }

    /// `sent`: bit d set when device d has an ATS request out (see `hw_actions`).
    fn fault_enabled(&self, f: Fault, sent: u8) -> bool {
        match f {
            Fault::Ite(_) if self.cfg.eager_fetch && self.hw.can_fetch() => false,
            Fault::Ite(d) => d < 8 && sent >> d & 1 == 1,
            Fault::Iqe => {
                let d = self.hw.ring[self.hw.iqh as usize];
                self.hw.can_fetch() && d.ty != hw::DescType::Wait && !d.invalid
            }
            Fault::Ice(d) => self.hw.qies && d < self.hw.ndevs,
        }
    }

    fn env_enabled(&self, e: EnvEvent) -> bool {
        let d = e.dev();
        if d >= self.hw.ndevs {
            return false;
        }
        let s = self.hw.devs[d as usize].state;
        match e {
            EnvEvent::Hang(_) => s == DevState::Ok,
            EnvEvent::Recover(_) => s == DevState::Hung,
            EnvEvent::Remove(_) | EnvEvent::LinkDown(_) => s == DevState::Ok || s == DevState::Hung,
        }
    }

    /// Appends the hardware's and the devices' actions; returns the devices with an ATS
    /// request out (bit per device), which decide where an injected ITE can strike.
    fn hw_actions(&self, out: &mut Vec<Step<Act>>) -> u8 {
        if self.hw.can_fetch() {
            out.push(Step::Model(Act::Fetch));
        }
        let now = self.m.now;
        let tes = self.hw.tes;
        let mut ahead = hw::Ahead::NONE;
        let mut sent = 0u8;
        // One pass in fetch order: each entry's turn under the ordering rules, its request's
        // answer and timeout, in the order `Iq::ready_mask` and the list always gave them.
        for f in self.hw.inflight() {
            if ahead.admits(f) {
                out.push(Step::Model(Act::Exec(f.slot)));
            } else if let Phase::Sent { deadline } = f.phase {
                let dev = f.desc.dev;
                if f.desc.ty.is_ats() {
                    sent |= 1 << dev;
                }
                if tes && self.hw.devs[dev as usize].state == DevState::Ok {
                    out.push(Step::Model(Act::Answer(f.slot)));
                }
                if deadline > 0 && now >= deadline {
                    out.push(Step::Model(Act::Timeout(f.slot)));
                }
            }
            ahead.pass(f);
        }
        debug_assert_eq!(
            self.hw.ready_mask().count_ones() as usize,
            out.iter()
                .filter(|s| matches!(s, Step::Model(Act::Exec(_))))
                .count()
        );
        for d in 0..self.hw.ndevs {
            let dev = self.hw.devs[d as usize];
            if dev.late_answer && dev.state == DevState::Ok {
                out.push(Step::Model(Act::LateAnswer(d)));
            }
        }
        if self.hw.fsts & (hw::fsts::ITE | hw::fsts::IQE) == 0 && self.hw.qies {
            for z in &self.hw.zombies[..self.hw.nzombies as usize] {
                out.push(Step::Model(Act::Stale(z.slot)));
            }
        }
        sent
    }

    fn irq_action(&self, out: &mut Vec<Step<Act>>) {
        // From bd5cdad0c8e0 on, dmar_fault() returns without writing FSTS when no primary fault
        // is pending, so its run changes no QI state and is not offered as a step.
        if self.irq_raised() {
            if let Some(c) = self.m.irq_cpu() {
                out.push(Step::Model(Act::Irq(c)));
            }
        }
        // A CPU that owes the interrupt runs only after the handler: it must be offered.
        debug_assert!(self.m.irq_owed == 0 || self.irq_raised() && self.m.irq_cpu().is_some());
    }

    fn apply_effect(&mut self, e: Effect) {
        let hw = Actor::Hw;
        match e {
            Effect::None => {}
            Effect::Fetched(s, _) => self.ev_as(hw, Ev::Fetch(s)),
            Effect::Iqe(s) => {
                self.ev_as(hw, Ev::Iqe(s));
                self.snap(hw);
            }
            Effect::Executed(f) => {
                self.ghost_executed(f.desc.tag);
                self.ev_as(hw, Ev::Exec(f.slot));
            }
            Effect::AtsSent(s, d) => {
                let now = self.m.now;
                self.hw.arm(s, now);
                self.ev_as(hw, Ev::AtsSent(s, d));
            }
            Effect::AtsDone(f) => {
                self.ghost_executed(f.desc.tag);
                self.ev_as(Actor::Dev(f.desc.dev), Ev::AtsDone(f.slot, f.desc.dev));
            }
            Effect::StatusWrite(f) => {
                self.ghost_status_write(f.desc.status, f.desc.tag);
                self.qi.status[f.desc.status as usize] = st::QI_DONE;
                self.ev_as(
                    hw,
                    Ev::StatusWrite {
                        slot: f.slot,
                        status: f.desc.status,
                    },
                );
            }
            Effect::WaitDone(f) => {
                self.ghost_executed(f.desc.tag);
                self.ev_as(hw, Ev::WaitDone(f.slot));
            }
            Effect::Ite {
                slot,
                tag,
                dev,
                dropped,
            } => {
                self.ghost_timed_out(tag);
                self.ev_as(hw, Ev::Ite { slot, dev, dropped });
                self.snap(hw);
            }
            Effect::Ice(sid) => self.ev_as(hw, Ev::Ice(sid)),
        }
    }

    /// `dmar_fault()` before bd5cdad0c8e0: reads FSTS and writes the value back, clearing every
    /// RW1C bit set at that moment, IQE/ITE/ICE included.
    fn dmar_fault(&mut self, cpu: u8) {
        let bits = self.hw.fsts;
        if bits & hw::fsts::ITE != 0 {
            self.ite_clearer = IteClearer::Irq;
        }
        self.iqe_cleared_by_irq |= bits & hw::fsts::IQE != 0;
        self.hw.write_fsts(bits);
        self.hw.irq_pending = false;
        self.ev_as(Actor::Irq(cpu), Ev::IrqClears(bits));
    }

    /// Records, for every CPU inside `qi_submit_sync`, that an ITE struck during its call.
    fn note_ite(&mut self, dev: u8, waited: bool) {
        if waited {
            let n = &mut self.ats_timeouts[dev as usize];
            *n = n.saturating_add(1);
        }
        for k in 0..self.hw.ninflight as usize {
            let d = self.hw.inflight[k].desc;
            // Only a wait with a status write completes a submission: the PRQ drain's leading
            // fenced wait has none, and its status field means nothing.
            if d.ty == hw::DescType::Wait && d.sw {
                if let Some(x) = self.subs.get_mut(d.tag.sub as usize) {
                    x.wait_dropped |= x.live && x.wait == d.status;
                }
            }
        }
        for c in 0..self.m.ncpus as usize {
            if self.in_call(c) {
                self.hist[c].waited_ats |= waited;
                self.hist[c].op_waited_ats |= waited;
                self.hist[c].ite_dev = Some(dev);
            } else if self.spins_behind_call(c) {
                // Spinning on a lock (`domain->cache_lock`, `device_domain_lock`) whose holder
                // waited the timeout out: the spinner's operation spent that time too.
                self.hist[c].op_waited_ats |= waited;
            }
        }
    }

    /// True while CPU `c` is inside `qi_submit_sync`.
    fn in_call(&self, c: usize) -> bool {
        self.subs.iter().any(|x| x.live && x.cpu as usize == c)
    }

    /// The CPU holding the spinlock CPU `c` spins on, if another CPU holds it.
    pub(super) fn lock_holder(&self, c: usize) -> Option<usize> {
        let Site::Lock(l) = self.m.cpus[c].site else {
            return None;
        };
        let holder = self.m.locks[l as usize];
        (holder != NO_OWNER && holder as usize != c).then_some(holder as usize)
    }

    /// True when CPU `c` spins on a spinlock whose holder (or its holder's, and so on) is inside
    /// `qi_submit_sync`.
    fn spins_behind_call(&self, c: usize) -> bool {
        let mut at = c;
        for _ in 0..self.m.ncpus {
            match self.lock_holder(at) {
                Some(h) if self.in_call(h) => return true,
                Some(h) => at = h,
                None => return false,
            }
        }
        false
    }

    fn inject(&mut self, f: Fault) {
        let i = self.fault_index(f).expect("enabled fault is listed");
        self.faults_used |= 1 << i;
        self.update_offers();
        self.ev_as(Actor::Env, Ev::Inject(f));
        let e = match f {
            Fault::Ite(d) => {
                let k = self.hw.inflight().iter().position(|x| {
                    x.desc.dev == d && x.desc.ty.is_ats() && matches!(x.phase, Phase::Sent { .. })
                });
                self.note_ite(d, false);
                self.hw.ite(k.expect("enabled ITE has a request out"))
            }
            Fault::Iqe => {
                let h = self.hw.iqh as usize;
                self.hw.ring[h].invalid = true;
                Effect::None
            }
            Fault::Ice(d) => self.hw.late_answer(d),
        };
        self.apply_effect(e);
    }

    fn env_event(&mut self, e: EnvEvent) {
        let i = self.env_index(e).expect("enabled event is listed");
        self.env_used |= 1 << i;
        self.update_offers();
        let d = &mut self.hw.devs[e.dev() as usize];
        d.state = match e {
            EnvEvent::Hang(_) => DevState::Hung,
            EnvEvent::Recover(_) => DevState::Ok,
            EnvEvent::Remove(_) => DevState::Removed,
            EnvEvent::LinkDown(_) => DevState::LinkDown,
        };
        self.ev_as(Actor::Env, Ev::Env(e));
    }

    /// [`Iq::check`] and [`Vtd::check_driver`] pass: the same conditions as one branch-free
    /// test, for the per-step oracle (the ordered checks name the one that failed).
    #[inline(always)]
    fn invariants_hold(&self) -> bool {
        let (h, q) = (&self.hw, &self.qi);
        let l = h.len;
        let hw = (h.iqh < l)
            & (h.iqt < l)
            & (h.qies | (h.ninflight == 0))
            & (h.ninflight as usize <= hw::MAX_INFLIGHT)
            & (h.fsts & !hw::fsts::QI_MASK == 0);
        let inside = (q.free_head < l) & (q.free_tail < l) & (q.free_cnt <= l);
        // Meaningful only `inside`; wrapping so that values outside cannot overflow.
        let used = q.free_head.wrapping_add(l).wrapping_sub(q.free_tail);
        let used = if used >= l {
            used.wrapping_sub(l)
        } else {
            used
        };
        let counted = (used.wrapping_add(q.free_cnt) == l) | ((used == 0) & (q.free_cnt == l));
        let ok = hw & inside & counted;
        debug_assert_eq!(
            ok,
            self.hw.check().and_then(|_| self.check_driver()).is_ok()
        );
        ok
    }

    /// The queue-integrity violation of a failed invariant (off the per-step path).
    #[cold]
    #[inline(never)]
    fn integrity_violation(&self) -> Option<Violation> {
        let r = self.hw.check().and_then(|_| self.check_driver());
        r.err().map(|why| Violation::integrity(why, self.m.now))
    }

    /// Driver-side invariants of `struct q_inval` (queue integrity oracle).
    fn check_driver(&self) -> Result<(), &'static str> {
        let l = self.qlen();
        let q = &self.qi;
        if q.free_head >= l || q.free_tail >= l {
            return Err("free_head or free_tail outside the ring");
        }
        if q.free_cnt > l {
            return Err("free_cnt larger than the ring");
        }
        // Both are below l here, so one conditional subtraction is the `% l` (no division).
        let used = q.free_head + l - q.free_tail;
        let used = if used >= l { used - l } else { used };
        if used + q.free_cnt != l && !(used == 0 && q.free_cnt == l) {
            return Err("free_cnt disagrees with [free_tail, free_head)");
        }
        Ok(())
    }
}

impl World for Vtd {
    type Action = Act;

    fn actions(&self, healing: bool, out: &mut Vec<Step<Act>>) {
        let sent = self.hw_actions(out);
        self.irq_action(out);
        if healing {
            return;
        }
        // One step per offered fault or event, in list order, faults and events interleaved.
        debug_assert_eq!(self.fault_offer, offers(&self.faults, self.faults_used));
        debug_assert_eq!(self.env_offer, offers(&self.env, self.env_used));
        let (fo, eo) = (self.fault_offer, self.env_offer);
        if fo | eo == 0 {
            return;
        }
        // Only the offered positions, in list order: one round per set bit, at most
        // MAX_EVENTS.
        let mut left = fo | eo;
        while left != 0 {
            let i = left.trailing_zeros() as usize;
            left &= left - 1;
            debug_assert!(i < MAX_EVENTS);
            if fo >> i & 1 == 1 {
                let f = self.faults[i].expect("an offered fault is listed");
                if self.fault_enabled(f, sent) {
                    out.push(Step::Model(Act::Inject(f)));
                }
            }
            if eo >> i & 1 == 1 {
                let e = self.env[i].expect("an offered event is listed");
                if self.env_enabled(e) {
                    out.push(Step::Model(Act::Env(e)));
                }
            }
        }
    }

    fn apply(&mut self, a: Act) {
        let e = match a {
            Act::Fetch => self.hw.fetch(),
            Act::Exec(s) => {
                let n = self.hw.ninflight as usize;
                let i = (0..n).find(|&i| self.hw.inflight[i].slot == s && self.hw.may_execute(i));
                self.hw.execute(i.expect("enabled exec is in flight"))
            }
            Act::Answer(s) => {
                let devs = self.hw.devs;
                let i = self.hw.inflight().iter().position(|f| {
                    f.slot == s
                        && matches!(f.phase, Phase::Sent { .. })
                        && devs[f.desc.dev as usize].state == DevState::Ok
                });
                self.hw
                    .ats_answer(i.expect("enabled answer has a request out"))
            }
            Act::Timeout(s) => {
                let now = self.m.now;
                let i = self.hw.inflight().iter().position(|f| {
                    f.slot == s && matches!(f.phase, Phase::Sent { deadline } if deadline > 0 && now >= deadline)
                });
                let i = i.expect("enabled timeout has an expired request");
                self.note_ite(self.hw.inflight[i].desc.dev, true);
                self.hw.ite(i)
            }
            Act::LateAnswer(d) => self.hw.late_answer(d),
            Act::Stale(s) => {
                let z = self.hw.zombies[..self.hw.nzombies as usize]
                    .iter()
                    .position(|z| z.slot == s);
                self.hw.zombie_write(z.expect("stale wait kept"))
            }
            Act::Irq(c) => {
                self.dmar_fault(c);
                Effect::None
            }
            Act::Inject(f) => {
                self.inject(f);
                Effect::None
            }
            Act::Env(e) => {
                self.env_event(e);
                Effect::None
            }
        };
        self.apply_effect(e);
    }

    fn next_deadline(&self) -> Option<Time> {
        self.hw.next_deadline()
    }

    #[inline(always)]
    fn check(&mut self) -> Option<Violation> {
        // Invariants can only break when shared state was written, and they hold on nearly
        // every step: the tests inline into the executor's step, the report is out of line.
        if self.m.version == self.checked_version && self.pending.is_none() {
            return None;
        }
        // Tested before taking: `take()` would move the whole (large) Option on every step.
        if self.pending.is_some() {
            return self.pending.take();
        }
        self.checked_version = self.m.version;
        if self.invariants_hold() {
            return None;
        }
        self.integrity_violation()
    }

    fn cause(&self, cpu: u8) -> &'static str {
        self.why(cpu)
    }

    fn victim(&self, cpu: u8) -> u8 {
        let h = self.hist[cpu as usize];
        if h.offline_wait {
            2
        } else {
            // Waiting for queue space, or spinning on a lock another CPU holds: reported after
            // the CPU whose trouble it is.
            u8::from(h.queue_full || self.lock_holder(cpu as usize).is_some())
        }
    }
}
