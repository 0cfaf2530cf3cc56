//! The shared state of one SMMUv3 run: machine, command queue hardware, the driver's
//! `struct arm_smmu_cmdq`, the reboot state, ghost state for the oracles, the trace, and the
//! labelled actions the executor chooses among.

use super::driver::CMDQ_BATCH_ENTRIES;
use super::hw::{self, Cmd, DevState, Effect, Smmu, Tag, MAX_DEVS, MAX_Q};
use super::ops::{Client, Config, EnvEvent, Fault};
use super::variants::Variant;
use crate::oracle::{Class, Violation};
use crate::sim::choice::Step;
use crate::sim::choice::{label_num as num, split_label};
use crate::sim::clock::{Site, Time, MS, SEC};
use crate::sim::cpu::{HasMachine, Machine, Run, NO_OWNER};
use crate::sim::executor::World;
use crate::sim::scenario::{fill, offers};
use crate::sim::trace::{Actor, Trace};
use crate::sim::MAX_CPUS;
use std::fmt;

/// `smmu_domain->devices_lock` of the SVA domain (the clients bound to the one mm).
pub const DEVICES_LOCK: u8 = 0;
/// `smmu->cmdq.lock`, the spinlock of the pre-2019 design.
pub const CMDQ_LOCK: u8 = 1;

/// `smmu_domain->devices_lock` of client `dev`'s DMA domain: each client's unmaps take its
/// own domain's lock, not the SVA domain's.
pub fn dma_devices_lock(dev: u8) -> u8 {
    assert!((dev as usize) < MAX_DEVS, "client out of range");
    2 + dev
}
/// Most faults and environment events a scenario lists.
pub const MAX_EVENTS: usize = 4;
/// Most command batches a run tracks.
pub const MAX_SUBS: usize = 512;
/// `CMDQ_PROD_OWNED_FLAG` (= `Q_OVERFLOW_FLAG`).
pub const OWNED: u32 = 1 << 31;
/// The reboot must finish within this much virtual time after `kernel_restart()` starts. A
/// healthy reboot takes milliseconds in the model; this is the NMI watchdog threshold, long
/// enough that only a reboot held up by a stuck CPU or repeated 1 s timeouts exceeds it.
pub const REBOOT_BOUND: Time = 10 * SEC;
/// A shared locker bypassed by this many exclusive acquisitions is starving (C2).
pub const STARVE_BYPASS: u32 = 2;

/// The driver's `struct arm_smmu_cmdq` (its `llq` word split into its two halves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdqSw {
    /// `q.llq.prod`: software reservation pointer, bit 31 the owned flag.
    pub prod: u32,
    /// `q.llq.cons`: the hardware CONS some CPU last published (may carry ERR bits).
    pub cons: u32,
    /// `valid_map`, one bit per slot, toggled once per lap.
    pub valid: [u64; MAX_Q / 64],
    /// `owner_prod`.
    pub owner_prod: u32,
    /// `smmu->sync_nr` (pre-2019 design): the last MSIData handed out.
    pub sync_nr: u32,
    /// `lock`: 0 free, N shared, INT_MIN (+N waiters) exclusive.
    pub lock: i32,
}

/// A snapshot of the 64-bit `llq` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Llq {
    /// prod half.
    pub prod: u32,
    /// cons half.
    pub cons: u32,
}

impl CmdqSw {
    const ZERO: CmdqSw = CmdqSw {
        prod: 0,
        cons: 0,
        valid: [0; MAX_Q / 64],
        owner_prod: 0,
        sync_nr: 0,
        lock: 0,
    };

    /// `READ_ONCE(cmdq->q.llq.val)`.
    #[inline]
    pub fn llq(&self) -> Llq {
        Llq {
            prod: self.prod,
            cons: self.cons,
        }
    }
}

/// One command batch (`struct arm_smmu_cmdq_batch` up to its submit), for the ghost oracles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sub {
    /// Caller CPU.
    pub cpu: u8,
    /// Commands added so far.
    pub count: u8,
    /// Bit k%32 of word k/32: command k took effect on the hardware.
    pub executed: [u32; 8],
    /// Not yet returned from its submit.
    pub live: bool,
    /// The SMMU completed the batch's CMD_SYNC and signalled it (MSI landed or CONS passed).
    pub sync_done: bool,
}

/// Reboot progress (kernel/reboot.c `kernel_restart()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reboot {
    /// Some CPU's program runs the reboot task.
    pub present: bool,
    /// `env:reboot` fired: the user asked for a reboot.
    pub fired: bool,
    /// SIGKILL sent to every process.
    pub sigkill: bool,
    /// When `kernel_restart()` began.
    pub start: Time,
    /// Time spent waiting in `migrate_to_reboot_cpu()`.
    pub migrate_wait: Time,
    /// Kernel function the reboot CPU was in when the migration had to wait.
    pub holder: &'static str,
    /// Time spent in `device_shutdown()`.
    pub shutdown_time: Time,
    /// `machine_restart()` reached.
    pub done: bool,
}

/// Trace events of the SMMUv3 model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ev {
    /// `arm_smmu_cmdq_issue_cmdlist` entered with `n` commands.
    Issue { n: u8, sync: bool },
    /// Slots reserved: [start, end), owner or not.
    Reserve { start: u32, end: u32, owner: bool },
    /// The llq cmpxchg lost a race.
    CasFail,
    /// No space: waiting for the queue to drain.
    QueueFull,
    /// `arm_smmu_cmdq_poll_until_not_full` timed out ("CMDQ timeout").
    CmdqTimeout,
    /// Exclusive lock taken to refresh the shadow cons from CONS.
    ConsRefresh(u32),
    /// Waiting in `arm_smmu_cmdq_shared_lock` behind an exclusive holder.
    SharedWait,
    /// `exclusive_trylock` won (the n-th exclusive acquisition of the run).
    ExclLock(u32),
    /// Exclusive lock released, leaving this lock value.
    ExclUnlock(i32),
    /// Owner wrote PROD.
    Publish(u32),
    /// Polling for the CMD_SYNC at this index.
    SyncWait(u32),
    /// "CMD_SYNC timeout at ... [hwprod ..., hwcons ...]".
    SyncTimeout { at: u32, hwprod: u32, hwcons: u32 },
    /// Pre-2019 design: polling `sync_count` for this MSIData.
    MsiWait(u32),
    /// Pre-2019 design: "CMD_SYNC timeout" while waiting for this MSIData.
    MsiTimeout(u32),
    /// Last SYNC waiter wrote the shadow cons.
    ConsShadow(u32),
    /// `issue_cmdlist` returned.
    Ret(i8),
    /// Hardware: command at index took effect.
    Exec(u32, hw::Opcode),
    /// Hardware: ATC_INV at index sent to device.
    AtcSent(u32, u8),
    /// Hardware: CMD_SYNC at index completed (MSI written or not).
    SyncDone { at: u32, msi: bool },
    /// Hardware: command error at index.
    CmdErr { at: u32, code: u8 },
    /// Device answered an ATC invalidation.
    AtcDone(u8),
    /// The SMMU's ATC timer fired for a device.
    AtcTimer(u8),
    /// CR0 written.
    Cr0(u8),
    /// CR0ACK followed.
    Cr0Ack(u8),
    /// `arm_smmu_device_disable`: "failed to clear cr0".
    Cr0Fail,
    /// GERROR handler: "unexpected global error reported".
    Gerror(u16),
    /// `__arm_smmu_cmdq_skip_err`: "CMDQ error (cons ...)".
    SkipErr { cons: u32, code: u8 },
    /// The entry at this index was rewritten into a CMD_SYNC.
    SkipIll(u32),
    /// GERRORN written.
    Gerrorn(u16),
    /// Injected fault.
    Inject(Fault),
    /// Environment event.
    Env(EnvEvent),
    /// The user asked for a reboot.
    RebootAsked,
    /// `kernel_restart()` began.
    Restart,
    /// SIGKILL sent to all processes.
    Kill,
    /// A process starts its exit path.
    Exiting,
    /// `device_shutdown()` reached a device (MAX_DEVS = the SMMU).
    DevShutdown(u8),
    /// `migrate_to_reboot_cpu()` waits for cpu0.
    MigrateWait,
    /// Migrated.
    Migrated,
    /// `syscore_shutdown()`.
    Syscore,
    /// `machine_restart()`: "Restarting system".
    MachineRestart,
    /// Queue state snapshot.
    Snap(Snap),
}

/// Queue state at a decisive step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Snap {
    /// PROD register.
    pub prod: u32,
    /// CONS register with ERR.
    pub cons: u32,
    /// Shadow llq.prod.
    pub llq_prod: u32,
    /// Shadow llq.cons.
    pub llq_cons: u32,
    /// owner_prod.
    pub owner_prod: u32,
    /// cmdq lock.
    pub lock: i32,
    /// CR0.
    pub cr0: u8,
    /// Active GERROR bits.
    pub gerror: u16,
}

/// A labelled model action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Act {
    /// Consume the entry at CONS.
    Consume,
    /// Acknowledge the last CR0 write.
    Cr0Ack,
    /// The device answers its oldest ATC invalidation.
    Answer(u8),
    /// The SMMU's ATC timer for the device's oldest request fires.
    AtcTimer(u8),
    /// `arm_smmu_gerror_handler` runs on this CPU.
    Irq(u8),
    /// Inject a listed fault.
    Inject(Fault),
    /// Fire a listed environment event.
    Env(EnvEvent),
    /// The user asks for a reboot.
    Reboot,
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Act::Consume => write!(f, "hw:consume"),
            Act::Cr0Ack => write!(f, "hw:cr0ack"),
            Act::Answer(d) => write!(f, "dev{d}:answer"),
            Act::AtcTimer(d) => write!(f, "hw:atc-timeout dev{d}"),
            Act::Irq(c) => write!(f, "irq:gerror cpu{c}"),
            Act::Inject(Fault::Ill) => write!(f, "fault:ill"),
            Act::Inject(Fault::Abt) => write!(f, "fault:abt"),
            Act::Inject(Fault::Sfm) => write!(f, "fault:sfm"),
            Act::Inject(Fault::MsiAbort) => write!(f, "fault:msi-abort"),
            Act::Inject(Fault::Wedge) => write!(f, "fault:wedge"),
            Act::Inject(Fault::AtcTimeout(d)) => write!(f, "fault:atc-timeout dev{d}"),
            Act::Env(EnvEvent::Hang(d)) => write!(f, "env:hang dev{d}"),
            Act::Env(EnvEvent::Recover(d)) => write!(f, "env:recover dev{d}"),
            Act::Reboot => write!(f, "env:reboot"),
        }
    }
}

/// Parses a step label (`cpu1`, `hw:consume`, `fault:atc-timeout dev0`, ...).
pub fn parse_step(s: &str) -> Option<Step<Act>> {
    let (a, b) = match split_label(s) {
        Ok(cpu) => return Some(cpu),
        Err(parts) => parts,
    };
    let act = match a {
        "hw:consume" => Act::Consume,
        "hw:cr0ack" => Act::Cr0Ack,
        "hw:atc-timeout" => Act::AtcTimer(num(b, "dev")?),
        "irq:gerror" => Act::Irq(num(b, "cpu")?),
        "fault:ill" => Act::Inject(Fault::Ill),
        "fault:abt" => Act::Inject(Fault::Abt),
        "fault:sfm" => Act::Inject(Fault::Sfm),
        "fault:msi-abort" => Act::Inject(Fault::MsiAbort),
        "fault:wedge" => Act::Inject(Fault::Wedge),
        "fault:atc-timeout" => Act::Inject(Fault::AtcTimeout(num(b, "dev")?)),
        "env:hang" => Act::Env(EnvEvent::Hang(num(b, "dev")?)),
        "env:recover" => Act::Env(EnvEvent::Recover(num(b, "dev")?)),
        "env:reboot" => Act::Reboot,
        x => Act::Answer(
            x.strip_prefix("dev")?
                .strip_suffix(":answer")?
                .parse()
                .ok()?,
        ),
    };
    Some(Step::Model(act))
}

/// Renders a step label.
pub fn step_label(s: &Step<Act>) -> String {
    match s {
        Step::Cpu(c) => format!("cpu{c}"),
        Step::Model(a) => a.to_string(),
    }
}

/// Per CPU, what its calls went through (for signatures).
#[derive(Clone, Copy, Debug, Default)]
pub struct Hist {
    /// CMD_SYNC timeouts.
    pub timeouts: u16,
    /// Of those, the ones sat through while ATC invalidations an endpoint had not answered
    /// held the queue (see [`Smmuv3::atc_stalled`]).
    pub atc_timeouts: u16,
    /// Waiting in `shared_lock` since this many exclusive acquisitions (None: not waiting).
    pub shared_wait: Option<u32>,
    /// In the reservation loop of `arm_smmu_cmdq_issue_cmdlist`, waiting for queue space.
    pub space_wait: bool,
    /// CMD_SYNC waits that succeeded, and waits for queue space that ended, but only after
    /// the SMMU's ATC timer had fired during them: they sat behind an ATC invalidation an
    /// endpoint did not answer.
    pub atc_waits: u16,
}

/// The world of one SMMUv3 run.
pub struct Smmuv3 {
    /// Machine: CPUs, locks, clock.
    pub m: Machine,
    /// Command queue hardware.
    pub hw: Smmu,
    /// Driver cmdq state.
    pub sw: CmdqSw,
    /// Driver variant.
    pub v: &'static Variant,
    /// `ARM_SMMU_OPT_MSIPOLL`.
    pub msipoll: bool,
    /// `ARM_SMMU_FEAT_RANGE_INV`.
    pub range_inv: bool,
    /// Reboot grace period.
    pub grace: Time,
    /// Client devices in probe order.
    pub clients: [Client; MAX_DEVS],
    /// Ghost: batch owning each slot's content (0 = none).
    pub owner: [u16; MAX_Q],
    /// Ghost: batches, index = id (0 unused).
    pub subs: Vec<Sub>,
    /// Per CPU, the command array its `struct arm_smmu_cmdq_batch` uses, kept across batches
    /// and runs (a batch takes it and its submit gives it back).
    pub batch_cmds: [Vec<Cmd>; MAX_CPUS],
    /// Trace.
    pub trace: Trace<Ev>,
    /// Faults the input lists.
    pub faults: [Option<Fault>; MAX_EVENTS],
    /// Which listed faults fired.
    pub faults_used: u8,
    /// Listed faults that can be offered at all: the first listing of each (a repeat is
    /// never offered).
    pub faults_first: u8,
    /// Environment events the input lists.
    pub env: [Option<EnvEvent>; MAX_EVENTS],
    /// Which listed events fired.
    pub env_used: u8,
    /// Listed environment events that can be offered at all: the first listing of each.
    pub env_first: u8,
    /// A violation found inside a step, reported by `check()`.
    pub pending: Option<Violation>,
    /// Reboot state.
    pub reboot: Reboot,
    /// Exclusive cmdq lock acquisitions so far (starvation ghost).
    pub excl: u32,
    /// Per-CPU history.
    pub hist: [Hist; MAX_CPUS],
    /// "CMD_SYNC timeout" lines printed.
    pub sync_timeouts: u32,
    /// ATC invalidations the SMMU gave up on so far (its ATC timer, or an injected timeout).
    pub atc_fired: u32,
    /// The SVA domain's mm was released: `exit_mmap()` runs the notifier's release once.
    pub mm_released: bool,
    /// Ghost: a slot was overwritten while the SMMU or a waiter still needed it; what the
    /// queue does afterwards follows from that.
    pub overwritten: bool,
}

impl HasMachine for Smmuv3 {
    fn machine(&self) -> &Machine {
        &self.m
    }
    fn machine_mut(&mut self) -> &mut Machine {
        &mut self.m
    }
    fn why_waiting(&self, cpu: u8) -> &'static str {
        self.why(cpu)
    }
    #[inline]
    fn irq_raised(&self) -> bool {
        self.hw.irq_pending
    }
}

impl Smmuv3 {
    /// A fresh world.
    pub fn new(v: &'static Variant, cfg: &Config, ncpus: u8) -> Self {
        let mut subs = Vec::with_capacity(64);
        subs.push(Sub::default());
        let mut w = Smmuv3 {
            m: Machine::new(ncpus),
            hw: Smmu::new(cfg.qshift, 1, SEC),
            sw: CmdqSw::ZERO,
            v,
            msipoll: true,
            range_inv: true,
            grace: 0,
            clients: [Client::default(); MAX_DEVS],
            owner: [0; MAX_Q],
            subs,
            batch_cmds: std::array::from_fn(|_| Vec::with_capacity(CMDQ_BATCH_ENTRIES)),
            trace: Trace::new(1 << 16),
            faults: [None; MAX_EVENTS],
            faults_used: 0,
            faults_first: 0,
            env: [None; MAX_EVENTS],
            env_used: 0,
            env_first: 0,
            pending: None,
            reboot: Reboot::default(),
            excl: 0,
            hist: [Hist::default(); MAX_CPUS],
            sync_timeouts: 0,
            atc_fired: 0,
            mm_released: false,
            overwritten: false,
        };
        w.reset(v, cfg, ncpus);
        w
    }

    /// Reinitialises for a new run, keeping buffers.
    pub fn reset(&mut self, v: &'static Variant, cfg: &Config, ncpus: u8) {
        let nd = cfg.clients.len().min(MAX_DEVS) as u8;
        self.m = Machine::new(ncpus);
        self.sync_irq_epoch();
        self.hw
            .reset(cfg.qshift, nd, u64::from(cfg.atc_timeout_ms) * MS);
        self.sw = CmdqSw::ZERO;
        self.v = v;
        self.msipoll = cfg.msipoll;
        self.range_inv = cfg.range_inv;
        self.grace = u64::from(cfg.grace_ms) * MS;
        self.clients = [Client::default(); MAX_DEVS];
        self.clients[..nd as usize].copy_from_slice(&cfg.clients[..nd as usize]);
        self.owner = [0; MAX_Q];
        self.subs.truncate(1);
        self.trace.clear();
        self.faults = [None; MAX_EVENTS];
        self.faults_used = 0;
        self.faults_first = 0;
        self.env = [None; MAX_EVENTS];
        self.env_used = 0;
        self.env_first = 0;
        self.pending = None;
        self.reboot = Reboot::default();
        self.excl = 0;
        self.hist = [Hist::default(); MAX_CPUS];
        self.sync_timeouts = 0;
        self.atc_fired = 0;
        self.mm_released = false;
        self.overwritten = false;
    }

    /// Lists the scenario's faults and environment events (after [`Smmuv3::reset`]).
    pub fn list_events(&mut self, faults: &[Fault], env: &[EnvEvent]) {
        fill(&mut self.faults, faults);
        fill(&mut self.env, env);
        // A repeated listing is never offered here: nothing is used yet.
        self.faults_first = offers(&self.faults, 0);
        self.env_first = offers(&self.env, 0);
    }

    /// The model's actions read the CPUs' interrupt state only while the GERROR interrupt is
    /// pending (the handler step goes to the first CPU that can take it): only then does
    /// turning interrupts off or on need to bump the epoch. Called whenever `irq_pending` may
    /// have changed, which only a model step (or a reset) does.
    fn sync_irq_epoch(&mut self) {
        self.m.irq_epoch = self.hw.irq_pending;
    }

    /// Number of client devices.
    #[inline]
    pub fn ndevs(&self) -> u8 {
        self.hw.ndevs
    }

    /// Appends a trace event by the current CPU.
    #[inline]
    pub fn ev(&mut self, e: Ev) {
        let who = Actor::Cpu(self.m.current);
        self.trace.push(self.m.now, who, e);
    }

    /// Appends a trace event by another actor.
    #[inline]
    pub fn ev_as(&mut self, who: Actor, e: Ev) {
        self.trace.push(self.m.now, who, e);
    }

    /// The queue state now.
    pub fn snap_now(&self) -> Snap {
        Snap {
            prod: self.hw.prod,
            cons: self.hw.read_cons(),
            llq_prod: self.sw.prod,
            llq_cons: self.sw.cons,
            owner_prod: self.sw.owner_prod,
            lock: self.sw.lock,
            cr0: self.hw.cr0,
            gerror: self.hw.active(),
        }
    }

    /// Records the queue state.
    pub fn snap(&mut self, who: Actor) {
        let s = self.snap_now();
        self.ev_as(who, Ev::Snap(s));
    }

    /// Files a violation found inside a step (the first one wins).
    pub fn violate(&mut self, class: Class, func: &'static str, cause: &'static str, msg: String) {
        if self.pending.is_none() {
            self.pending = Some(Violation {
                class,
                cpu: Some(self.m.current),
                func: func.into(),
                cause: cause.into(),
                time: self.m.now,
                msg,
            });
        }
    }

    /// Starts a ghost batch record.
    pub fn new_sub(&mut self, cpu: u8) -> u16 {
        let s = Sub {
            cpu,
            live: true,
            ..Sub::default()
        };
        if self.subs.len() >= MAX_SUBS {
            // Keep tracking bounded: reuse the last record (oracles stay sound, less precise).
            self.subs[MAX_SUBS - 1] = s;
            return (MAX_SUBS - 1) as u16;
        }
        self.subs.push(s);
        (self.subs.len() - 1) as u16
    }

    /// A CPU writes a command at queue position `p` (index and wrap). Returns true when the
    /// slot is the one at CONS, the only entry the model's actions look at.
    pub fn write_slot(&mut self, p: u32, c: Cmd) -> bool {
        let i = self.hw.idx(p);
        self.ghost_claim(p, c.tag);
        self.hw.q[i] = c;
        self.owner[i] = c.tag.sub;
        i == self.hw.idx(self.hw.cons)
    }

    fn fault_index(&self, f: Fault) -> Option<usize> {
        (0..MAX_EVENTS).find(|&i| self.faults[i] == Some(f) && self.faults_used & (1 << i) == 0)
    }

    fn env_index(&self, e: EnvEvent) -> Option<usize> {
        (0..MAX_EVENTS).find(|&i| self.env[i] == Some(e) && self.env_used & (1 << i) == 0)
    }

    fn fault_enabled(&self, f: Fault) -> bool {
        let h = &self.hw;
        match f {
            Fault::Ill | Fault::Abt => h.can_consume(),
            Fault::Sfm => !h.sfm && h.cr0 != 0,
            Fault::MsiAbort => !h.msi_abort,
            Fault::Wedge => !h.wedged && h.prod != h.cons,
            Fault::AtcTimeout(d) => h.oldest_atc(d).is_some(),
        }
    }

    fn env_enabled(&self, e: EnvEvent) -> bool {
        let d = e.dev();
        if d >= self.ndevs() {
            return false;
        }
        let s = self.hw.devs[d as usize];
        match e {
            EnvEvent::Hang(_) => s == DevState::Ok,
            EnvEvent::Recover(_) => s == DevState::Hung,
        }
    }

    fn hw_actions(&self, out: &mut Vec<Step<Act>>) {
        if self.hw.consume_enabled() {
            out.push(Step::Model(Act::Consume));
        }
        if self.hw.cr0ack != self.hw.cr0 {
            out.push(Step::Model(Act::Cr0Ack));
        }
        if self.hw.natc != 0 {
            self.atc_actions(out);
        }
        if self.irq_raised() {
            if let Some(c) = self.m.irq_cpu() {
                out.push(Step::Model(Act::Irq(c)));
            }
        }
        // A CPU that owes the interrupt runs only after the handler: it must be offered.
        debug_assert!(self.m.irq_owed == 0 || self.irq_raised() && self.m.irq_cpu().is_some());
        if self.reboot.present && !self.reboot.fired {
            out.push(Step::Model(Act::Reboot));
        }
    }

    /// Device answers and ATC timers, device by device (only with requests outstanding).
    fn atc_actions(&self, out: &mut Vec<Step<Act>>) {
        let now = self.m.now;
        for d in 0..self.ndevs() {
            if let Some(k) = self.hw.oldest_atc(d) {
                if self.hw.devs[d as usize] == DevState::Ok {
                    out.push(Step::Model(Act::Answer(d)));
                }
                if now >= self.hw.atc[k].deadline {
                    out.push(Step::Model(Act::AtcTimer(d)));
                }
            }
        }
    }

    /// Listed faults and environment events not fired yet and possible now, by listing
    /// index (fault i before event i). A repeated listing is never offered.
    fn event_actions(&self, out: &mut Vec<Step<Act>>) {
        let faults = self.faults_first & !self.faults_used;
        let env = self.env_first & !self.env_used;
        if faults | env == 0 {
            return;
        }
        for i in 0..MAX_EVENTS {
            if let (true, Some(f)) = (faults >> i & 1 != 0, self.faults[i]) {
                if self.fault_enabled(f) {
                    out.push(Step::Model(Act::Inject(f)));
                }
            }
            if let (true, Some(e)) = (env >> i & 1 != 0, self.env[i]) {
                if self.env_enabled(e) {
                    out.push(Step::Model(Act::Env(e)));
                }
            }
        }
    }

    fn apply_effect(&mut self, e: Effect) {
        let hw = Actor::Hw;
        match e {
            Effect::None => {}
            Effect::Executed(at, c) => {
                self.ghost_executed(c.tag);
                self.ev_as(hw, Ev::Exec(at, c.op));
            }
            Effect::AtcSent(at, c) => self.ev_as(hw, Ev::AtcSent(at, c.dev)),
            Effect::SyncDone { at, msi, cmd } => {
                self.ghost_sync_done(cmd, msi);
                self.ev_as(hw, Ev::SyncDone { at, msi });
            }
            Effect::Error { at, code } => {
                self.ev_as(hw, Ev::CmdErr { at, code });
                self.snap(hw);
            }
            Effect::AtcDone(a) => {
                self.ghost_executed(a.tag);
                self.ev_as(Actor::Dev(a.dev), Ev::AtcDone(a.dev));
            }
        }
    }

    fn inject(&mut self, f: Fault) {
        let i = self.fault_index(f).expect("enabled fault is listed");
        self.faults_used |= 1 << i;
        self.ev_as(Actor::Env, Ev::Inject(f));
        let e = match f {
            Fault::Ill => {
                let i = self.hw.idx(self.hw.cons);
                self.hw.q[i].corrupt = true;
                Effect::None
            }
            Fault::Abt => self.hw.fetch_abort(),
            Fault::Sfm => {
                self.hw.sfm = true;
                self.hw.raise(hw::gerror::SFM_ERR);
                Effect::None
            }
            Fault::MsiAbort => {
                self.hw.msi_abort = true;
                Effect::None
            }
            Fault::Wedge => {
                self.hw.wedged = true;
                Effect::None
            }
            Fault::AtcTimeout(d) => {
                self.atc_timeout(d);
                Effect::None
            }
        };
        self.apply_effect(e);
    }

    fn env_event(&mut self, e: EnvEvent) {
        let i = self.env_index(e).expect("enabled event is listed");
        self.env_used |= 1 << i;
        self.hw.devs[e.dev() as usize] = match e {
            EnvEvent::Hang(_) => DevState::Hung,
            EnvEvent::Recover(_) => DevState::Ok,
        };
        self.ev_as(Actor::Env, Ev::Env(e));
    }

    /// `machine_restart()` → `smp_send_stop()`: every other CPU stops where it is.
    pub fn stop_other_cpus(&mut self, me: u8) {
        for (i, c) in self.m.cpus.iter_mut().enumerate() {
            if i != me as usize && c.run == Run::Running {
                c.run = Run::Done;
                c.busy_since = None;
                c.irqs_off = false;
            }
        }
        // Which CPUs run and take interrupts is what the GERROR handler step reads.
        self.m.epoch = self.m.epoch.wrapping_add(1);
    }

    /// Driver-side invariants of `struct arm_smmu_cmdq` (queue integrity oracle).
    fn check_driver(&self) -> Result<(), &'static str> {
        let mask = (self.hw.len() << 1) - 1;
        let sp = self.sw.prod & !OWNED;
        if sp & !mask != 0 || self.sw.owner_prod & !mask != 0 {
            return Err("llq.prod or owner_prod has bits beyond the wrap bit");
        }
        // llq.prod may run more than a queue's length past owner_prod: between an owner's PROD
        // write and its owner_prod release (steps 4d and 4e of arm_smmu_cmdq_issue_cmdlist) the
        // SMMU consumes, a CPU short of space refreshes llq.cons from CONS, and the next
        // reservations reach CONS + len. What holds is PROD within [owner_prod, llq.prod].
        // PROD is written before owner_prod is handed over, and never passes the reservations.
        let lead = self.hw.prod.wrapping_sub(self.sw.owner_prod) & mask;
        let behind = sp.wrapping_sub(self.hw.prod) & mask;
        if lead > self.hw.len() || behind > self.hw.len() {
            return Err("PROD outside [owner_prod, llq.prod]");
        }
        Ok(())
    }

    /// [`Smmuv3::check_driver`] passes: the same conditions as one branch-free test, for the
    /// per-step oracle (the ordered checks name the one that failed).
    #[inline]
    fn driver_holds(&self) -> bool {
        let mask = (self.hw.len() << 1) - 1;
        let sp = self.sw.prod & !OWNED;
        let lead = self.hw.prod.wrapping_sub(self.sw.owner_prod) & mask;
        let behind = sp.wrapping_sub(self.hw.prod) & mask;
        (sp | self.sw.owner_prod) & !mask == 0
            && (lead <= self.hw.len()) & (behind <= self.hw.len())
    }

    /// The queue integrity violation of a failed invariant (off the per-step path).
    #[cold]
    #[inline(never)]
    fn integrity_violation(&self) -> Option<Violation> {
        let r = self.hw.check().and_then(|_| self.check_driver());
        r.err().map(|why| Violation::integrity(why, self.m.now))
    }

    /// Ghost: some CPU waits in `arm_smmu_cmdq_shared_lock` behind an exclusive holder.
    pub fn shared_waiter(&self) -> bool {
        self.hist.iter().any(|h| h.shared_wait.is_some())
    }

    /// `cpu` gave up on a CMD_SYNC after its 1 s poll: counted for the report and, with whether
    /// an ATC stall held the queue then, for the cause of what it waits for later.
    pub fn note_sync_timeout(&mut self, cpu: u8) {
        let atc = self.atc_stalled();
        let h = &mut self.hist[cpu as usize];
        h.timeouts += 1;
        h.atc_timeouts += u16::from(atc);
        self.sync_timeouts += 1;
    }

    /// The SMMU gives up on `dev`'s oldest ATC invalidation (its timer, or an injected
    /// timeout), counted for the causes of the waits it held up.
    fn atc_timeout(&mut self, dev: u8) {
        self.hw.atc_timeout(dev);
        self.atc_fired += 1;
    }

    /// A CMD_SYNC wait or a wait for queue space of `cpu` ended well; `fired` is
    /// [`Smmuv3::atc_fired`] when it began.
    pub fn note_wait_done(&mut self, cpu: u8, fired: u32) {
        if self.atc_fired != fired {
            self.hist[cpu as usize].atc_waits += 1;
        }
    }

    /// The queue is slow only because of ATC invalidations to endpoints that do not answer: one
    /// is outstanding (or the last command error was its CERROR_ATC_INV_SYNC, the moment the
    /// SMMU's ATC timer released the queue), and nothing else stops it (disabled, wedged,
    /// Service Failure Mode, another command error waiting for its handler).
    pub fn atc_stalled(&self) -> bool {
        let hw = &self.hw;
        let other_err =
            hw.active() & hw::gerror::CMDQ_ERR != 0 && hw.err != hw::cerror::ATC_INV_SYNC;
        let stopped = hw.cr0 & hw::cr0::CMDQEN == 0 || hw.wedged || hw.sfm || other_err;
        !stopped && (hw.natc != 0 || hw.err == hw::cerror::ATC_INV_SYNC)
    }

    /// Why `cpu` is waiting, as a stable signature field.
    fn why(&self, cpu: u8) -> &'static str {
        self.why_at(cpu, self.m.ncpus)
    }

    /// `why`, following spinlock holders at most `hops` times.
    fn why_at(&self, cpu: u8, hops: u8) -> &'static str {
        let h = self.hist[cpu as usize];
        if h.shared_wait.is_some() {
            return "lock-starved";
        }
        let c = &self.m.cpus[cpu as usize];
        if c.func == "migrate_to_reboot_cpu" {
            return "reboot-blocked";
        }
        // A CPU spinning on a spinlock (devices_lock) waits for whatever keeps the holder
        // inside its critical section, not for anything of its own.
        if let Site::Lock(l) = c.site {
            let holder = self.m.locks[l as usize];
            if holder != NO_OWNER && holder != cpu && hops > 0 {
                return self.why_at(holder, hops - 1);
            }
        }
        // Once a slot was overwritten before the SMMU consumed it (the MSI-timeout finding),
        // the queue's pointers and valid bits no longer describe its content.
        if self.overwritten {
            return "overwritten";
        }
        // What the CPU waits for now outranks CMD_SYNC timeouts it sat through before: once
        // the queue stops draining, the space wait has no timeout and never ends.
        if h.space_wait {
            // Behind ATC timeouts the queue still drains, one timeout at a time.
            return if self.atc_stalled() {
                "atc-timeout"
            } else {
                "no-space"
            };
        }
        let cmdq_on = self.hw.cr0 & hw::cr0::CMDQEN != 0;
        if h.timeouts > 0 || !cmdq_on {
            // Every timeout behind an endpoint that does not answer its ATC invalidations: the
            // SMMU waits out its ATC timer, the driver its 1 s poll, and the queue drains one
            // such invalidation per ATC timeout. Any other timeout (a disabled or stopped
            // queue) names the CPU's wait as before.
            return if cmdq_on && h.atc_timeouts == h.timeouts {
                "atc-timeout"
            } else {
                "sync-timeout"
            };
        }
        if c.run == Run::Hung {
            return "hung";
        }
        // No timeout of its own, but CMD_SYNCs that completed, or queue space that came, only
        // once the SMMU's ATC timer released the queue (and, with the GERROR's CPU busy, its
        // handler got to run).
        if h.atc_waits > 0 && cmdq_on {
            return "atc-timeout";
        }
        "spin"
    }
}

impl World for Smmuv3 {
    type Action = Act;

    fn actions(&self, healing: bool, out: &mut Vec<Step<Act>>) {
        self.hw_actions(out);
        if !healing {
            self.event_actions(out);
        }
    }

    fn apply(&mut self, a: Act) {
        let e = match a {
            Act::Consume => {
                let now = self.m.now;
                self.hw.consume(now)
            }
            Act::Cr0Ack => {
                self.hw.ack_cr0();
                self.ev_as(Actor::Hw, Ev::Cr0Ack(self.hw.cr0ack));
                Effect::None
            }
            Act::Answer(d) => self.hw.atc_answer(d),
            Act::AtcTimer(d) => {
                self.atc_timeout(d);
                self.ev_as(Actor::Hw, Ev::AtcTimer(d));
                Effect::None
            }
            Act::Irq(c) => {
                super::driver::arm_smmu_gerror_handler(self, c);
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
            Act::Reboot => {
                self.reboot.fired = true;
                self.ev_as(Actor::Env, Ev::RebootAsked);
                Effect::None
            }
        };
        self.apply_effect(e);
        self.sync_irq_epoch();
    }

    fn next_deadline(&self) -> Option<Time> {
        self.hw.next_deadline()
    }

    #[inline]
    fn check(&mut self) -> Option<Violation> {
        // Tested before taking: `take()` would move the whole (large) Option on every step.
        if self.pending.is_some() {
            return self.pending.take();
        }
        let holds = self.hw.holds() && self.driver_holds();
        debug_assert_eq!(
            holds,
            self.hw.check().and_then(|_| self.check_driver()).is_ok(),
            "the fast invariant test must agree with the ordered checks"
        );
        if holds {
            return None;
        }
        self.integrity_violation()
    }

    fn cause(&self, cpu: u8) -> &'static str {
        self.why(cpu)
    }
}

/// Ghost tag of a batch's trailing CMD_SYNC (not one of the caller's invalidations).
pub const SYNC_IDX: u8 = u8::MAX;

/// The tag a CPU gives command `idx` of batch `sub`.
pub fn tag(sub: u16, idx: u8) -> Tag {
    Tag { sub, idx }
}
