//! The SMMUv3 command queue hardware, its ATS endpoints and fault injection (spec part A).
//!
//! State: 2^n command slots in memory, the PROD and CONS registers (n index bits plus a wrap
//! bit), CONS.ERR, CR0/CR0ACK, GERROR/GERRORN, and the ATC invalidations sent to endpoints that
//! have not answered yet. Each hardware action is one step chosen by the executor: consuming the
//! entry at CONS, acknowledging a CR0 write, an endpoint answering, the ATC timer firing. The
//! engine consumes strictly in order and stops on a command error until GERRORN acknowledges
//! it; with CMDQEN clear it consumes nothing at all (PROD stays writable).

/// Most queue slots (2^8).
pub const MAX_Q: usize = 256;
/// Most client devices (ATS endpoints).
pub const MAX_DEVS: usize = 4;
/// Most ATC invalidations outstanding at the endpoints.
pub const MAX_ATC: usize = 16;

/// `SMMU_CR0` bits.
pub mod cr0 {
    /// SMMUEN.
    pub const SMMUEN: u8 = 1 << 0;
    /// CMDQEN.
    pub const CMDQEN: u8 = 1 << 3;
}

/// `SMMU_GERROR` bits the model raises.
pub mod gerror {
    /// CMDQ_ERR: a command error stopped the queue.
    pub const CMDQ_ERR: u16 = 1 << 0;
    /// MSI_CMDQ_ABT_ERR: a CMD_SYNC completion MSI write aborted.
    pub const MSI_CMDQ_ABT: u16 = 1 << 4;
    /// SFM_ERR: Service Failure Mode.
    pub const SFM_ERR: u16 = 1 << 8;
    /// `GERROR_ERR_MASK`.
    pub const ERR_MASK: u16 = 0x1fd;
}

/// `CMDQ_CONS.ERR` codes (`CMDQ_ERR_CERROR_*_IDX`).
pub mod cerror {
    /// No error.
    pub const NONE: u8 = 0;
    /// Illegal command.
    pub const ILL: u8 = 1;
    /// Abort on command fetch.
    pub const ABT: u8 = 2;
    /// ATC invalidate timeout, reported at the CMD_SYNC.
    pub const ATC_INV_SYNC: u8 = 3;
}

/// Command opcode (the ones the modelled callers build).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `CMDQ_OP_TLBI_NH_VA` (0x12), by address or by range.
    TlbiNhVa,
    /// `CMDQ_OP_TLBI_NH_ASID` (0x11).
    TlbiNhAsid,
    /// `CMDQ_OP_CFGI_CD` (0x05).
    CfgiCd,
    /// `CMDQ_OP_ATC_INV` (0x40).
    AtcInv,
    /// `CMDQ_OP_CMD_SYNC` (0x46).
    CmdSync,
}

impl Opcode {
    /// Short name for timelines.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::TlbiNhVa => "TLBI_NH_VA",
            Opcode::TlbiNhAsid => "TLBI_NH_ASID",
            Opcode::CfgiCd => "CFGI_CD",
            Opcode::AtcInv => "ATC_INV",
            Opcode::CmdSync => "CMD_SYNC",
        }
    }
}

/// CMD_SYNC completion signal (`CMDQ_SYNC_0_CS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cs {
    /// SIG_NONE: only CONS tells.
    None,
    /// SIG_IRQ: MSI write of 0 into the first word of the SYNC slot itself.
    Irq,
    /// SIG_SEV: a wake-up event.
    Sev,
}

/// Ghost tag: which batch and which of its commands a slot's content belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tag {
    /// Batch id (0 = none).
    pub sub: u16,
    /// Index of the command in its batch.
    pub idx: u8,
}

/// One 16-byte command as the SMMU reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cmd {
    /// Opcode.
    pub op: Opcode,
    /// Client device (ATC_INV, CFGI_CD).
    pub dev: u8,
    /// Range TLBI fields (FEAT_RANGE_INV): a range command has TG != 0.
    pub range: bool,
    /// SCALE.
    pub scale: u8,
    /// NUM (chunks minus one).
    pub num: u8,
    /// TTL (0 = level unknown).
    pub ttl: u8,
    /// CMD_SYNC completion signal.
    pub cs: Cs,
    /// First 32-bit word of the entry (opcode and flags): the MSI completion writes 0 here.
    pub word0: u32,
    /// Corrupted entry (injected fault): consuming it raises CERROR_ILL.
    pub corrupt: bool,
    /// CMD_SYNC with CS=IRQ: MSIAddress is the shared `sync_count` word and MSIData this
    /// value (the pre-2019 design, 49806599c31d), instead of the SYNC's own slot.
    pub msi_count: bool,
    /// MSIData for `msi_count` SYNCs.
    pub msidata: u32,
    /// Ghost owner.
    pub tag: Tag,
}

impl Cmd {
    /// An all-zero slot.
    pub const EMPTY: Cmd = Cmd {
        op: Opcode::CmdSync,
        dev: 0,
        range: false,
        scale: 0,
        num: 0,
        ttl: 0,
        cs: Cs::None,
        word0: 0,
        corrupt: false,
        msi_count: false,
        msidata: 0,
        tag: Tag { sub: 0, idx: 0 },
    };

    /// A command of `op` for device `dev` (word0 carries the opcode, so it is never 0).
    pub fn new(op: Opcode, dev: u8) -> Cmd {
        let code = match op {
            Opcode::TlbiNhVa => 0x12,
            Opcode::TlbiNhAsid => 0x11,
            Opcode::CfgiCd => 0x05,
            Opcode::AtcInv => 0x40,
            Opcode::CmdSync => 0x46,
        };
        Cmd {
            op,
            dev,
            word0: code,
            ..Cmd::EMPTY
        }
    }

    /// A CMD_SYNC with completion signal `cs`.
    pub fn sync(cs: Cs) -> Cmd {
        let sig = match cs {
            Cs::None => 0,
            Cs::Irq => 1,
            Cs::Sev => 2,
        };
        Cmd {
            cs,
            word0: 0x46 | (sig << 12),
            ..Cmd::new(Opcode::CmdSync, 0)
        }
    }

    /// The SMMU rejects it with CERROR_ILL: a corrupted entry, or a range invalidation with
    /// TTL, NUM and SCALE all 0 (the case eb6c97647be2 stops the driver from building).
    pub fn illegal(&self) -> bool {
        let bad_range = self.op == Opcode::TlbiNhVa
            && self.range
            && self.ttl == 0
            && self.num == 0
            && self.scale == 0;
        self.corrupt || bad_range
    }
}

/// What the trace and the ghost oracles keep of a command the SMMU consumed: a few bytes,
/// not a copy of the whole entry on every consume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// Opcode.
    pub op: Opcode,
    /// Client device (ATC_INV).
    pub dev: u8,
    /// CMD_SYNC completion signal.
    pub cs: Cs,
    /// Ghost owner.
    pub tag: Tag,
}

impl Consumed {
    /// What is kept of `c`.
    #[inline]
    pub fn of(c: &Cmd) -> Consumed {
        Consumed {
            op: c.op,
            dev: c.dev,
            cs: c.cs,
            tag: c.tag,
        }
    }
}

/// How an ATS endpoint behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DevState {
    /// Answers ATS invalidation requests.
    Ok,
    /// Never answers.
    Hung,
}

/// An ATC invalidation sent to an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Atc {
    /// Endpoint.
    pub dev: u8,
    /// Ghost tag of the ATC_INV command.
    pub tag: Tag,
    /// When the SMMU's ATC completion timer fires.
    pub deadline: u64,
    /// The timer fired: the next CMD_SYNC reports CERROR_ATC_INV_SYNC.
    pub timed_out: bool,
}

/// What one hardware action did, for the trace and the ghost oracles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing observable.
    None,
    /// A TLBI or CFGI at this index took effect and CONS moved past it.
    Executed(u32, Consumed),
    /// An ATC_INV at this index went out to its endpoint.
    AtcSent(u32, Consumed),
    /// A CMD_SYNC at this index completed; `msi` when its MSI write landed.
    SyncDone { at: u32, msi: bool, cmd: Consumed },
    /// A command error stopped the queue at this index.
    Error { at: u32, code: u8 },
    /// The endpoint answered an ATC invalidation.
    AtcDone(Atc),
}

/// The command queue engine and its registers.
#[derive(Clone, Debug)]
pub struct Smmu {
    /// log2 of the number of slots.
    pub shift: u8,
    /// Queue memory.
    pub q: [Cmd; MAX_Q],
    /// `SMMU_CMDQ_PROD`.
    pub prod: u32,
    /// `SMMU_CMDQ_CONS` (index and wrap; the error code is `err`).
    pub cons: u32,
    /// `CMDQ_CONS.ERR`.
    pub err: u8,
    /// `SMMU_CR0`.
    pub cr0: u8,
    /// `SMMU_CR0ACK`.
    pub cr0ack: u8,
    /// `SMMU_GERROR`.
    pub gerror: u16,
    /// `SMMU_GERRORN`.
    pub gerrorn: u16,
    /// The GERROR interrupt is raised and not yet handled.
    pub irq_pending: bool,
    /// The engine is wedged (injected): it consumes nothing, registers unchanged.
    pub wedged: bool,
    /// In Service Failure Mode: it consumes nothing.
    pub sfm: bool,
    /// Injected: the next CMD_SYNC MSI write aborts.
    pub msi_abort: bool,
    /// ATC invalidations sent and not answered.
    pub atc: [Atc; MAX_ATC],
    /// Number of valid `atc` entries.
    pub natc: u8,
    /// Endpoints.
    pub devs: [DevState; MAX_DEVS],
    /// Number of endpoints.
    pub ndevs: u8,
    /// The SMMU's ATC invalidation completion timeout.
    pub atc_timeout: u64,
    /// `smmu->sync_count` (pre-2019 design): the word MSIs of `msi_count` SYNCs write.
    pub sync_count: u32,
}

impl Smmu {
    /// A queue of 2^`shift` slots, enabled (CMDQEN and SMMUEN set and acknowledged).
    pub fn new(shift: u8, ndevs: u8, atc_timeout: u64) -> Self {
        assert!((7..=8).contains(&shift), "queue size out of range");
        assert!(ndevs as usize <= MAX_DEVS);
        let a = Atc {
            dev: 0,
            tag: Tag::default(),
            deadline: 0,
            timed_out: false,
        };
        Smmu {
            shift,
            q: [Cmd::EMPTY; MAX_Q],
            prod: 0,
            cons: 0,
            err: 0,
            cr0: cr0::SMMUEN | cr0::CMDQEN,
            cr0ack: cr0::SMMUEN | cr0::CMDQEN,
            gerror: 0,
            gerrorn: 0,
            irq_pending: false,
            wedged: false,
            sfm: false,
            msi_abort: false,
            atc: [a; MAX_ATC],
            natc: 0,
            devs: [DevState::Ok; MAX_DEVS],
            ndevs,
            atc_timeout,
            sync_count: 0,
        }
    }

    /// Resets in place to the state [`Smmu::new`] gives (no multi-kilobyte temporary and copy);
    /// only the previous run's slots can be dirty, as every index is taken modulo the length.
    pub fn reset(&mut self, shift: u8, ndevs: u8, atc_timeout: u64) {
        assert!((7..=8).contains(&shift), "queue size out of range");
        assert!(ndevs as usize <= MAX_DEVS);
        let dirty = self.len() as usize;
        self.q[..dirty].fill(Cmd::EMPTY);
        let a = Atc {
            dev: 0,
            tag: Tag::default(),
            deadline: 0,
            timed_out: false,
        };
        self.shift = shift;
        self.prod = 0;
        self.cons = 0;
        self.err = 0;
        self.cr0 = cr0::SMMUEN | cr0::CMDQEN;
        self.cr0ack = cr0::SMMUEN | cr0::CMDQEN;
        self.gerror = 0;
        self.gerrorn = 0;
        self.irq_pending = false;
        self.wedged = false;
        self.sfm = false;
        self.msi_abort = false;
        self.atc = [a; MAX_ATC];
        self.natc = 0;
        self.devs = [DevState::Ok; MAX_DEVS];
        self.ndevs = ndevs;
        self.atc_timeout = atc_timeout;
        self.sync_count = 0;
        debug_assert_eq!(
            format!("{self:?}"),
            format!("{:?}", Smmu::new(shift, ndevs, atc_timeout)),
            "reset must give what new gives"
        );
    }

    /// Number of slots.
    #[inline]
    pub fn len(&self) -> u32 {
        1 << self.shift
    }

    /// Always false: a queue has at least 128 slots.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `Q_IDX`.
    #[inline]
    pub fn idx(&self, p: u32) -> usize {
        (p & (self.len() - 1)) as usize
    }

    /// `Q_IDX | Q_WRP` of `p` plus `n`, wrapping over the index and wrap bits.
    #[inline]
    pub fn inc(&self, p: u32, n: u32) -> u32 {
        (p + n) & ((self.len() << 1) - 1)
    }

    /// The ATC invalidations outstanding.
    pub fn atcs(&self) -> &[Atc] {
        &self.atc[..self.natc as usize]
    }

    /// A global error is active while its GERROR and GERRORN bits differ.
    #[inline]
    pub fn active(&self) -> u16 {
        (self.gerror ^ self.gerrorn) & gerror::ERR_MASK
    }

    /// Toggles a GERROR bit to active (no effect while it already is) and raises the IRQ.
    pub fn raise(&mut self, bit: u16) {
        if self.active() & bit == 0 {
            self.gerror ^= bit;
            self.irq_pending = true;
        }
    }

    /// The engine would look at the entry at CONS now.
    pub fn can_consume(&self) -> bool {
        self.cr0 & cr0::CMDQEN != 0
            && !self.wedged
            && !self.sfm
            && self.active() & gerror::CMDQ_ERR == 0
            && self.prod != self.cons
    }

    /// A consume step changes something: a CMD_SYNC stays put while an earlier ATC
    /// invalidation is neither answered nor timed out.
    pub fn consume_enabled(&self) -> bool {
        if !self.can_consume() {
            return false;
        }
        let e = &self.q[self.idx(self.cons)];
        e.illegal() || e.op != Opcode::CmdSync || self.natc == 0 || self.atc_timed_out()
    }

    fn atc_timed_out(&self) -> bool {
        self.atcs().iter().any(|a| a.timed_out)
    }

    /// Injected external abort while fetching the entry at CONS (synchronous: CONS stays).
    pub fn fetch_abort(&mut self) -> Effect {
        assert!(
            self.can_consume(),
            "fetch abort while the engine is stopped"
        );
        self.error(cerror::ABT)
    }

    /// Stops the queue on a command error with CONS parked on the entry.
    fn error(&mut self, code: u8) -> Effect {
        self.err = code;
        self.raise(gerror::CMDQ_ERR);
        Effect::Error {
            at: self.cons,
            code,
        }
    }

    /// Consumes the entry at CONS (spec A.6 `hw_step`).
    pub fn consume(&mut self, now: u64) -> Effect {
        assert!(
            self.consume_enabled(),
            "consume while the engine is stopped"
        );
        let at = self.cons;
        let slot = &self.q[self.idx(at)];
        if slot.illegal() {
            return self.error(cerror::ILL);
        }
        let e = Consumed::of(slot);
        match e.op {
            Opcode::CmdSync => return self.sync(at, e),
            Opcode::AtcInv => self.send_atc(e, now),
            _ => {}
        }
        self.cons = self.inc(at, 1);
        if e.op == Opcode::AtcInv {
            Effect::AtcSent(at, e)
        } else {
            Effect::Executed(at, e)
        }
    }

    fn send_atc(&mut self, e: Consumed, now: u64) {
        assert!((self.natc as usize) < MAX_ATC, "ATC request table full");
        self.atc[self.natc as usize] = Atc {
            dev: e.dev,
            tag: e.tag,
            deadline: now + self.atc_timeout,
            timed_out: false,
        };
        self.natc += 1;
    }

    /// CMD_SYNC at CONS: every earlier command is complete; a timed-out ATC invalidation
    /// turns it into CERROR_ATC_INV_SYNC with CONS left on the SYNC.
    fn sync(&mut self, at: u32, e: Consumed) -> Effect {
        if self.atc_timed_out() {
            self.drop_timed_out();
            return self.error(cerror::ATC_INV_SYNC);
        }
        assert_eq!(
            self.natc, 0,
            "SYNC completing with ATC invalidations outstanding"
        );
        let i = self.idx(at);
        let mut msi = false;
        if e.cs == Cs::Irq {
            if self.msi_abort {
                self.msi_abort = false;
                self.raise(gerror::MSI_CMDQ_ABT);
            } else if self.q[i].msi_count {
                self.sync_count = self.q[i].msidata;
                msi = true;
            } else {
                self.q[i].word0 = 0;
                msi = true;
            }
        }
        self.cons = self.inc(at, 1);
        Effect::SyncDone { at, msi, cmd: e }
    }

    /// The SMMU forgets the requests it reported as timed out (it cannot tell which one).
    fn drop_timed_out(&mut self) {
        let mut k = 0;
        while k < self.natc as usize {
            if self.atc[k].timed_out {
                self.remove_atc(k);
            } else {
                k += 1;
            }
        }
    }

    fn remove_atc(&mut self, k: usize) {
        let n = self.natc as usize;
        self.atc.copy_within(k + 1..n, k);
        self.natc -= 1;
    }

    /// Index of the oldest request to `dev` still waiting for an answer.
    pub fn oldest_atc(&self, dev: u8) -> Option<usize> {
        self.atcs()
            .iter()
            .position(|a| a.dev == dev && !a.timed_out)
    }

    /// The endpoint answers its oldest outstanding request.
    pub fn atc_answer(&mut self, dev: u8) -> Effect {
        let k = self.oldest_atc(dev).expect("answer with a request out");
        assert_eq!(
            self.devs[dev as usize],
            DevState::Ok,
            "a hung endpoint answered"
        );
        let a = self.atc[k];
        self.remove_atc(k);
        Effect::AtcDone(a)
    }

    /// The ATC completion timer of `dev`'s oldest request fires.
    pub fn atc_timeout(&mut self, dev: u8) {
        let k = self.oldest_atc(dev).expect("timeout with a request out");
        self.atc[k].timed_out = true;
    }

    /// Earliest ATC timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.atcs()
            .iter()
            .filter(|a| !a.timed_out)
            .map(|a| a.deadline)
            .min()
    }

    /// Software writes `SMMU_CR0`; the acknowledgement follows as a separate step. Clearing
    /// CMDQEN stops consumption at once.
    pub fn write_cr0(&mut self, v: u8) {
        self.cr0 = v;
    }

    /// The SMMU acknowledges the last CR0 write.
    pub fn ack_cr0(&mut self) {
        self.cr0ack = self.cr0;
    }

    /// Software writes `SMMU_GERRORN`: every error whose bit now matches is acknowledged and,
    /// for CMDQ_ERR, consumption resumes from the entry at CONS.
    pub fn write_gerrorn(&mut self, v: u16) {
        self.gerrorn = v;
        if self.active() == 0 {
            self.irq_pending = false;
        }
    }

    /// `readl(CMDQ_CONS)`: index, wrap and ERR in bits [30:24].
    pub fn read_cons(&self) -> u32 {
        self.cons | (u32::from(self.err) << 24)
    }

    /// [`Smmu::check`] passes: the same conditions as one branch-free test, for the per-step
    /// oracle (`check` names the one that failed).
    #[inline]
    pub fn holds(&self) -> bool {
        let mask = (self.len() << 1) - 1;
        let used = self.prod.wrapping_sub(self.cons) & mask;
        (self.prod | self.cons) & !mask == 0
            && (used <= self.len()) & (self.natc as usize <= MAX_ATC)
    }

    /// The hardware's own invariants.
    pub fn check(&self) -> Result<(), &'static str> {
        let mask = (self.len() << 1) - 1;
        if self.prod & !mask != 0 || self.cons & !mask != 0 {
            return Err("PROD or CONS has bits beyond the wrap bit");
        }
        let used = self.prod.wrapping_sub(self.cons) & mask;
        if used > self.len() {
            return Err("CONS ran ahead of PROD");
        }
        if self.natc as usize > MAX_ATC {
            return Err("more ATC requests than the table holds");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(s: &mut Smmu, c: Cmd) {
        let i = s.idx(s.prod);
        s.q[i] = c;
        s.prod = s.inc(s.prod, 1);
    }

    #[test]
    fn consumes_in_order_and_sync_writes_its_msi() {
        let mut s = Smmu::new(7, 1, 1000);
        put(&mut s, Cmd::new(Opcode::TlbiNhVa, 0));
        put(&mut s, Cmd::sync(Cs::Irq));
        assert!(matches!(s.consume(0), Effect::Executed(0, _)));
        assert!(matches!(
            s.consume(0),
            Effect::SyncDone {
                at: 1,
                msi: true,
                ..
            }
        ));
        assert_eq!(s.q[1].word0, 0, "MSI data 0 written into the SYNC slot");
        assert!(!s.can_consume());
        assert!(s.check().is_ok());
    }

    #[test]
    fn pointers_wrap_with_the_wrap_bit() {
        let mut s = Smmu::new(7, 1, 1000);
        s.prod = 127;
        s.cons = 127;
        put(&mut s, Cmd::new(Opcode::TlbiNhAsid, 0));
        assert_eq!(s.prod, 128, "index 0 with the wrap bit set");
        assert_eq!(s.idx(s.prod), 0);
        s.consume(0);
        assert_eq!(s.cons, 128);
        assert_eq!(s.inc(255, 1), 0);
    }

    #[test]
    fn illegal_command_stops_the_queue_until_gerrorn() {
        let mut s = Smmu::new(7, 1, 1000);
        let mut bad = Cmd::new(Opcode::TlbiNhVa, 0);
        bad.range = true;
        put(&mut s, bad);
        put(&mut s, Cmd::sync(Cs::Sev));
        assert_eq!(
            s.consume(0),
            Effect::Error {
                at: 0,
                code: cerror::ILL
            }
        );
        assert_eq!(s.cons, 0, "CONS parked on the offending entry");
        assert!(s.irq_pending && !s.can_consume());
        assert_eq!(s.read_cons() >> 24, u32::from(cerror::ILL));
        s.q[0] = Cmd::sync(Cs::Sev);
        s.write_gerrorn(s.gerror);
        assert!(s.can_consume() && !s.irq_pending);
        assert!(matches!(s.consume(0), Effect::SyncDone { at: 0, .. }));
    }

    #[test]
    fn sync_waits_for_atc_answers_and_reports_timeouts() {
        let mut s = Smmu::new(7, 2, 1000);
        put(&mut s, Cmd::new(Opcode::AtcInv, 1));
        put(&mut s, Cmd::sync(Cs::Irq));
        assert!(matches!(s.consume(5), Effect::AtcSent(0, _)));
        assert_eq!(s.next_deadline(), Some(1005));
        assert!(!s.consume_enabled(), "SYNC held back by the ATC request");
        s.atc_timeout(1);
        assert_eq!(
            s.consume(6),
            Effect::Error {
                at: 1,
                code: cerror::ATC_INV_SYNC
            }
        );
        assert_eq!(s.natc, 0);
        s.write_gerrorn(s.gerror);
        assert!(matches!(s.consume(7), Effect::SyncDone { msi: true, .. }));
    }

    #[test]
    fn cmdqen_clear_freezes_consumption() {
        let mut s = Smmu::new(7, 1, 1000);
        put(&mut s, Cmd::new(Opcode::TlbiNhAsid, 0));
        s.write_cr0(0);
        assert!(!s.can_consume());
        assert_ne!(s.cr0ack, 0, "the acknowledgement is a separate step");
        s.ack_cr0();
        assert_eq!(s.cr0ack, 0);
        put(&mut s, Cmd::sync(Cs::Sev));
        assert_eq!(s.prod, 2, "PROD stays writable");
    }

    #[test]
    fn aborted_msi_raises_gerror_and_leaves_the_slot() {
        let mut s = Smmu::new(7, 1, 1000);
        put(&mut s, Cmd::sync(Cs::Irq));
        s.msi_abort = true;
        assert!(matches!(s.consume(0), Effect::SyncDone { msi: false, .. }));
        assert_ne!(s.q[0].word0, 0);
        assert_eq!(s.active(), gerror::MSI_CMDQ_ABT);
        assert_eq!(
            s.cons, 1,
            "CONS moved although the waiter never hears of it"
        );
    }
}
