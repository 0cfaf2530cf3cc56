//! The VT-d Invalidation Queue hardware, ATS endpoints and fault injection (spec part A).
//!
//! State: the ring of L descriptor slots, IQH/IQT, FSTS (IQE/ICE/ITE), IQER, QIES/TES, the
//! descriptors fetched but not yet completed, and one ATS endpoint per device. Every action is
//! one hardware step chosen by the executor, so fetch depth, execution order (within the spec's
//! ordering rules) and the moment a wait's status write lands are all nondeterministic.
//! The hardware writes wait completions into `desc_status[]`, the very array the driver uses
//! for its bookkeeping (spec pitfall 1), so that write is a separate step here.

use serde::{Deserialize, Serialize};

/// Most ring slots (`QI_LENGTH`).
pub const MAX_L: usize = 256;
/// Most ATS endpoints.
pub const MAX_DEVS: usize = 4;
/// Most descriptors the queue engine holds fetched but not completed (its ITag/prefetch depth).
pub const MAX_INFLIGHT: usize = 32;

/// FSTS bits (RW1C) the model uses.
pub mod fsts {
    /// Invalidation Queue Error.
    pub const IQE: u8 = 1 << 4;
    /// Invalidation Completion Error.
    pub const ICE: u8 = 1 << 5;
    /// Invalidation Time-out Error.
    pub const ITE: u8 = 1 << 6;
    /// All QI error bits.
    pub const QI_MASK: u8 = IQE | ICE | ITE;
}

/// IQER.IQEI value for an invalid descriptor type.
pub const IQEI_INVALID_TYPE: u8 = 3;

/// Descriptor type (low nibble of qw0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DescType {
    /// `QI_CC_TYPE` context-cache invalidation.
    Cc,
    /// `QI_IOTLB_TYPE`.
    Iotlb,
    /// `QI_DIOTLB_TYPE` device-TLB (ATS) invalidation.
    DevTlb,
    /// `QI_IEC_TYPE` interrupt-entry cache.
    Iec,
    /// `QI_IWD_TYPE` invalidation wait.
    Wait,
    /// `QI_EIOTLB_TYPE` PASID-based IOTLB.
    Piotlb,
    /// `QI_PC_TYPE` PASID cache.
    Pc,
    /// `QI_DEIOTLB_TYPE` PASID-based device-TLB.
    DevTlbPasid,
}

impl DescType {
    /// Short name for timelines.
    pub fn name(self) -> &'static str {
        match self {
            DescType::Cc => "CC",
            DescType::Iotlb => "IOTLB",
            DescType::DevTlb => "DEVTLB",
            DescType::Iec => "IEC",
            DescType::Wait => "WAIT",
            DescType::Piotlb => "PIOTLB",
            DescType::Pc => "PC",
            DescType::DevTlbPasid => "PDEVTLB",
        }
    }
    /// True for descriptors that go out to an ATS endpoint.
    pub fn is_ats(self) -> bool {
        matches!(self, DescType::DevTlb | DescType::DevTlbPasid)
    }
    fn is_iotlb(self) -> bool {
        matches!(self, DescType::Iotlb | DescType::Piotlb)
    }
    fn is_ctx(self) -> bool {
        matches!(self, DescType::Cc | DescType::Pc)
    }
}

/// Ghost tag: which submission and which of its descriptors a slot's content belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tag {
    /// Submission id (0 = none).
    pub sub: u16,
    /// Index within the submission.
    pub idx: u8,
}

/// One descriptor as the hardware reads it from a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Desc {
    /// Type.
    pub ty: DescType,
    /// Target device (ATS descriptors).
    pub dev: u8,
    /// Wait: index of `desc_status[]` the status write goes to.
    pub status: u16,
    /// Wait: SW, write Status Data on completion.
    pub sw: bool,
    /// Wait: FN, later descriptors wait for this one.
    pub fence: bool,
    /// Wait: PD, complete only after page requests drained.
    pub drain: bool,
    /// Content is invalid (wrong type or reserved bits): fetching it raises IQE.
    pub invalid: bool,
    /// Ghost owner.
    pub tag: Tag,
}

impl Desc {
    /// An all-zero slot (type 0 is not valid; never fetched unless software is broken).
    pub const EMPTY: Desc = Desc {
        ty: DescType::Iotlb,
        dev: 0,
        status: 0,
        sw: false,
        fence: false,
        drain: false,
        invalid: false,
        tag: Tag { sub: 0, idx: 0 },
    };
}

/// Progress of a fetched descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Fetched, not executed.
    Queued,
    /// ATS invalidate request sent; the completion timer runs until the deadline.
    Sent {
        /// Virtual time of the completion timeout.
        deadline: u64,
    },
    /// Executed (or failed, for a timed-out ATS request).
    Done,
}

/// A fetched descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fetched {
    /// Slot it was fetched from.
    pub slot: u16,
    /// Its content at fetch time.
    pub desc: Desc,
    /// Progress.
    pub phase: Phase,
}

/// How an ATS endpoint behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DevState {
    /// Answers invalidation requests.
    Ok,
    /// Present but never answers.
    Hung,
    /// Surprise-removed: hot-plug saw it go (`pci_dev_is_disconnected`), no config access.
    Removed,
    /// Link down without a hot-plug event: not present, but not marked disconnected.
    LinkDown,
}

/// One ATS endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dev {
    /// Behaviour.
    pub state: DevState,
    /// A request of this device timed out while the device was able to answer; its answer
    /// may still arrive and then has no ITag (ICE).
    pub late_answer: bool,
}

impl Dev {
    /// `pci_device_is_present()`: config space answers.
    pub fn present(&self) -> bool {
        matches!(self.state, DevState::Ok | DevState::Hung)
    }
    /// `pci_dev_is_disconnected()`: hot-plug marked it gone.
    pub fn disconnected(&self) -> bool {
        self.state == DevState::Removed
    }
    fn answers(&self) -> bool {
        self.state == DevState::Ok
    }
}

/// Requester id of device `d` as latched in IQER.ITESID (never 0).
pub fn sid_of(d: u8) -> u16 {
    0x0100 | ((d as u16) << 3)
}

/// Device whose requester id is `sid`, if any.
pub fn dev_of_sid(sid: u16, ndevs: u8) -> Option<u8> {
    (0..ndevs).find(|&d| sid_of(d) == sid)
}

/// The Invalidation Queue engine's state.
#[derive(Clone, Debug)]
pub struct Iq {
    /// Ring length L.
    pub len: u16,
    /// Descriptor slots.
    pub ring: [Desc; MAX_L],
    /// IQH: index of the next slot the hardware fetches.
    pub iqh: u16,
    /// IQT: index software writes next (the doorbell).
    pub iqt: u16,
    /// FSTS, QI bits only.
    pub fsts: u8,
    /// IQER.IQEI.
    pub iqei: u8,
    /// IQER.ITESID (latched only while ITE was clear).
    pub itesid: u16,
    /// IQER.ICESID.
    pub icesid: u16,
    /// GSTS.QIES.
    pub qies: bool,
    /// GSTS.TES.
    pub tes: bool,
    /// Fetched, not retired, in fetch order.
    pub inflight: [Fetched; MAX_INFLIGHT],
    /// Number of valid `inflight` entries.
    pub ninflight: u8,
    /// ATS endpoints.
    pub devs: [Dev; MAX_DEVS],
    /// Number of endpoints.
    pub ndevs: u8,
    /// ATS invalidation completion timeout.
    pub ats_timeout: u64,
    /// Fault event raised and not yet handled.
    pub irq_pending: bool,
    /// Hardware quirk (spec A.4): waits aborted by ITE may still complete after ITE is cleared.
    pub stale_waits: bool,
    /// Waits dropped by ITE, kept only when `stale_waits` (they may land later).
    pub zombies: [Fetched; 8],
    /// Number of valid `zombies`.
    pub nzombies: u8,
}

/// What a hardware action did, for the trace and the ghost oracles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing observable.
    None,
    /// Fetched slot.
    Fetched(u16, DescType),
    /// Fetch hit an invalid descriptor: IQE.
    Iqe(u16),
    /// Executed a non-ATS, non-wait descriptor.
    Executed(Fetched),
    /// Sent an ATS invalidate request.
    AtsSent(u16, u8),
    /// The endpoint answered: the ATS descriptor completed.
    AtsDone(Fetched),
    /// A wait completed: `desc_status[status] := QI_DONE` (if SW), with the wait's tag.
    StatusWrite(Fetched),
    /// A wait without status write completed.
    WaitDone(Fetched),
    /// ITE: request at slot (tagged `tag`) timed out; `dropped` pending waits dropped.
    Ite {
        slot: u16,
        tag: Tag,
        dev: u8,
        dropped: u8,
    },
    /// ICE.
    Ice(u16),
}

/// What is still pending ahead of an in-flight entry, as the ordering rules (spec 6.5.2.11)
/// see it: one pass over the in-flight list in fetch order decides every entry's turn.
#[derive(Clone, Copy, Debug)]
pub struct Ahead {
    all_done: bool,
    ctx: bool,
    iotlb_iec: bool,
    fence: bool,
}

impl Ahead {
    /// Nothing ahead.
    pub const NONE: Ahead = Ahead {
        all_done: true,
        ctx: false,
        iotlb_iec: false,
        fence: false,
    };

    /// True when `p`, queued behind what this has seen, may execute now.
    #[inline(always)]
    pub fn admits(&self, p: &Fetched) -> bool {
        let t = p.desc.ty;
        let ok = match t {
            DescType::Wait => self.all_done,
            x if x.is_iotlb() => !self.fence && !self.ctx,
            x if x.is_ats() => !self.fence && !self.iotlb_iec,
            _ => !self.fence,
        };
        ok && p.phase == Phase::Queued
    }

    /// Moves past `p`.
    #[inline(always)]
    pub fn pass(&mut self, p: &Fetched) {
        if p.phase != Phase::Done {
            let t = p.desc.ty;
            self.all_done = false;
            self.ctx |= t.is_ctx();
            self.iotlb_iec |= t.is_iotlb() || t == DescType::Iec;
            self.fence |= t == DescType::Wait && p.desc.fence;
        }
    }
}

impl Iq {
    /// A reset queue of `len` slots with `ndevs` answering endpoints; QI and translation on.
    pub fn new(len: u16, ndevs: u8, ats_timeout: u64) -> Self {
        assert!(
            (2..=MAX_L as u16).contains(&len),
            "ring length out of range"
        );
        assert!(ndevs as usize <= MAX_DEVS);
        let f = Fetched {
            slot: 0,
            desc: Desc::EMPTY,
            phase: Phase::Done,
        };
        Iq {
            len,
            ring: [Desc::EMPTY; MAX_L],
            iqh: 0,
            iqt: 0,
            fsts: 0,
            iqei: 0,
            itesid: 0,
            icesid: 0,
            qies: true,
            tes: true,
            inflight: [f; MAX_INFLIGHT],
            ninflight: 0,
            devs: [Dev {
                state: DevState::Ok,
                late_answer: false,
            }; MAX_DEVS],
            ndevs,
            ats_timeout,
            irq_pending: false,
            stale_waits: false,
            zombies: [f; 8],
            nzombies: 0,
        }
    }

    /// Resets in place to the state [`Iq::new`] gives, clearing only the slots the previous
    /// run could have written (those below its ring length).
    pub fn reset(&mut self, len: u16, ndevs: u8, ats_timeout: u64) {
        assert!(
            (2..=MAX_L as u16).contains(&len),
            "ring length out of range"
        );
        assert!(ndevs as usize <= MAX_DEVS);
        let dirty = self.len as usize;
        self.ring[..dirty].fill(Desc::EMPTY);
        let f = Fetched {
            slot: 0,
            desc: Desc::EMPTY,
            phase: Phase::Done,
        };
        self.len = len;
        self.iqh = 0;
        self.iqt = 0;
        self.fsts = 0;
        self.iqei = 0;
        self.itesid = 0;
        self.icesid = 0;
        self.qies = true;
        self.tes = true;
        self.inflight = [f; MAX_INFLIGHT];
        self.ninflight = 0;
        self.devs = [Dev {
            state: DevState::Ok,
            late_answer: false,
        }; MAX_DEVS];
        self.ndevs = ndevs;
        self.ats_timeout = ats_timeout;
        self.irq_pending = false;
        self.stale_waits = false;
        self.zombies = [f; 8];
        self.nzombies = 0;
        debug_assert_eq!(
            format!("{self:?}"),
            format!("{:?}", Iq::new(len, ndevs, ats_timeout)),
            "reset must give what new gives"
        );
    }

    /// Fetched, not retired descriptors.
    pub fn inflight(&self) -> &[Fetched] {
        &self.inflight[..self.ninflight as usize]
    }

    /// True when slot `s` is in the window software queued but the hardware has not fetched.
    pub fn unfetched(&self, s: u16) -> bool {
        let l = self.len;
        let d = (s + l - self.iqh) % l;
        let n = (self.iqt + l - self.iqh) % l;
        d < n
    }

    /// True when `slot` lies in [IQH, IQT), the part of the ring the hardware may still fetch.
    pub fn fetchable(&self, slot: u16) -> bool {
        let l = self.len;
        let off = (slot + l - self.iqh) % l;
        let n = (self.iqt + l - self.iqh) % l;
        off < n
    }

    /// Fetch is possible: QI enabled, no IQE/ITE, IQH != IQT, room for one more.
    pub fn can_fetch(&self) -> bool {
        self.qies
            && self.fsts & (fsts::IQE | fsts::ITE) == 0
            && self.iqh != self.iqt
            && (self.ninflight as usize) < MAX_INFLIGHT
    }

    /// Raises a QI fault bit; the fault event fires only if no status bit was already set
    /// (interrupt conditions are edge-like, spec A.1 FECTL).
    fn raise(&mut self, bit: u8) {
        if self.fsts == 0 {
            self.irq_pending = true;
        }
        self.fsts |= bit;
    }

    /// Fetch step: read the slot at IQH; an invalid one sets IQE and IQH stays on it.
    pub fn fetch(&mut self) -> Effect {
        assert!(self.can_fetch(), "fetch while fetching is stopped");
        let s = self.iqh;
        let d = self.ring[s as usize];
        if d.invalid {
            self.iqei = IQEI_INVALID_TYPE;
            self.raise(fsts::IQE);
            return Effect::Iqe(s);
        }
        let n = self.ninflight as usize;
        self.inflight[n] = Fetched {
            slot: s,
            desc: d,
            phase: Phase::Queued,
        };
        self.ninflight += 1;
        self.iqh = (s + 1) % self.len;
        Effect::Fetched(s, d.ty)
    }

    /// True when inflight entry `i` may execute under the ordering rules (spec 6.5.2.11):
    /// IOTLB after earlier context/PASID-cache invalidations, device-TLB after earlier IOTLB
    /// and IEC invalidations, a wait after everything ahead of it, nothing past a fenced wait.
    pub fn may_execute(&self, i: usize) -> bool {
        let me = self.inflight[i];
        if me.phase != Phase::Queued {
            return false;
        }
        self.inflight[..i].iter().all(|p| {
            let done = p.phase == Phase::Done;
            let t = p.desc.ty;
            if t == DescType::Wait && p.desc.fence && !done {
                return false;
            }
            match me.desc.ty {
                DescType::Wait => done,
                x if x.is_iotlb() => done || !t.is_ctx(),
                x if x.is_ats() => done || !(t.is_iotlb() || t == DescType::Iec),
                _ => true,
            }
        })
    }

    /// Bit i set when inflight entry i may execute now: [`Iq::may_execute`] for every entry in
    /// one pass, carrying what is still pending ahead of each entry.
    pub fn ready_mask(&self) -> u32 {
        let mut ahead = Ahead::NONE;
        let mut mask = 0u32;
        for (i, p) in self.inflight().iter().enumerate() {
            mask |= u32::from(ahead.admits(p)) << i;
            ahead.pass(p);
        }
        debug_assert!(
            (0..self.ninflight as usize).all(|i| self.may_execute(i) == (mask >> i & 1 == 1))
        );
        mask
    }

    /// Execute step for inflight entry `i`.
    pub fn execute(&mut self, i: usize) -> Effect {
        assert!(
            self.may_execute(i),
            "executing a descriptor the ordering rules hold back"
        );
        let f = self.inflight[i];
        if f.desc.ty.is_ats() {
            self.inflight[i].phase = Phase::Sent { deadline: 0 };
            return Effect::AtsSent(f.slot, f.desc.dev);
        }
        if f.desc.ty == DescType::Wait {
            self.remove(i);
            return if f.desc.sw {
                Effect::StatusWrite(f)
            } else {
                Effect::WaitDone(f)
            };
        }
        self.inflight[i].phase = Phase::Done;
        self.retire();
        Effect::Executed(f)
    }

    /// Starts the completion timer of a sent ATS request (the executor knows the time).
    pub fn arm(&mut self, slot: u16, now: u64) {
        for f in self.inflight[..self.ninflight as usize].iter_mut() {
            if f.slot == slot && f.phase == (Phase::Sent { deadline: 0 }) {
                f.phase = Phase::Sent {
                    deadline: now + self.ats_timeout,
                };
            }
        }
    }

    /// The endpoint answers the request at inflight entry `i`. Completions arriving while
    /// translation is disabled are treated as UR and dropped (spec A.3): the timer keeps running.
    pub fn ats_answer(&mut self, i: usize) -> Effect {
        let f = self.inflight[i];
        assert!(matches!(f.phase, Phase::Sent { .. }) && self.devs[f.desc.dev as usize].answers());
        if !self.tes {
            return Effect::None;
        }
        self.inflight[i].phase = Phase::Done;
        self.retire();
        Effect::AtsDone(f)
    }

    /// The ATS request at inflight entry `i` timed out (its timer fired, or the fuzzer says it
    /// did): ITE, every pending wait dropped without a status write, IQH not advanced.
    pub fn ite(&mut self, i: usize) -> Effect {
        let f = self.inflight[i];
        assert!(
            matches!(f.phase, Phase::Sent { .. }),
            "ITE without an ATS request out"
        );
        let dev = f.desc.dev;
        if self.devs[dev as usize].answers() {
            self.devs[dev as usize].late_answer = true;
        }
        if self.fsts & fsts::ITE == 0 {
            self.itesid = sid_of(dev);
        }
        self.raise(fsts::ITE);
        self.inflight[i].phase = Phase::Done;
        let mut dropped = 0u8;
        let mut k = 0;
        while k < self.ninflight as usize {
            let p = self.inflight[k];
            if p.desc.ty == DescType::Wait {
                self.remove(k);
                self.keep_zombie(p);
                dropped += 1;
            } else {
                k += 1;
            }
        }
        self.retire();
        Effect::Ite {
            slot: f.slot,
            tag: f.desc.tag,
            dev,
            dropped,
        }
    }

    fn keep_zombie(&mut self, p: Fetched) {
        if self.stale_waits && (self.nzombies as usize) < self.zombies.len() {
            self.zombies[self.nzombies as usize] = p;
            self.nzombies += 1;
        }
    }

    /// Quirk: a wait aborted by ITE completes after ITE was cleared (stale completion).
    pub fn zombie_write(&mut self, z: usize) -> Effect {
        let f = self.zombies[z];
        let n = self.nzombies as usize;
        self.zombies.copy_within(z + 1..n, z);
        self.nzombies -= 1;
        if f.desc.sw {
            Effect::StatusWrite(f)
        } else {
            Effect::WaitDone(f)
        }
    }

    /// An answer for a request that already timed out: no ITag matches, ICE.
    pub fn late_answer(&mut self, dev: u8) -> Effect {
        self.devs[dev as usize].late_answer = false;
        if self.fsts & fsts::ICE == 0 {
            self.icesid = sid_of(dev);
        }
        self.raise(fsts::ICE);
        Effect::Ice(sid_of(dev))
    }

    /// Software writes 1s to FSTS bits (RW1C).
    pub fn write_fsts(&mut self, bits: u8) {
        self.fsts &= !bits;
    }

    /// GCMD.QIE := 0: the queue stops, IQH resets to 0, pending work is dropped.
    pub fn disable_qi(&mut self) {
        self.qies = false;
        self.iqh = 0;
        self.ninflight = 0;
    }

    /// GCMD.QIE := 1: the queue runs again from IQH = 0 (software has written IQT = 0 first).
    /// Setting QIE while QI already runs changes nothing.
    pub fn enable_qi(&mut self) {
        if self.qies {
            return;
        }
        assert_eq!(
            self.ninflight, 0,
            "a disabled queue holds no fetched descriptors"
        );
        self.qies = true;
        self.iqh = 0;
    }

    /// GCMD.TE := `on`. With translation off, ATS completions are UR; on again (resume), ATS
    /// requests are answered again.
    pub fn set_translation(&mut self, on: bool) {
        self.tes = on;
    }

    fn remove(&mut self, i: usize) {
        let n = self.ninflight as usize;
        self.inflight.copy_within(i + 1..n, i);
        self.ninflight -= 1;
    }

    /// Drops completed descriptors from the front of the in-flight list.
    fn retire(&mut self) {
        let n = self.ninflight as usize;
        let k = self.inflight[..n]
            .iter()
            .take_while(|f| f.phase == Phase::Done)
            .count();
        if k > 0 {
            self.inflight.copy_within(k..n, 0);
            self.ninflight -= k as u8;
        }
    }

    /// Earliest pending ATS completion timeout.
    pub fn next_deadline(&self) -> Option<u64> {
        self.inflight()
            .iter()
            .filter_map(|f| match f.phase {
                Phase::Sent { deadline } if deadline > 0 => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// The hardware's own invariants; returns a description of the first that fails.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.iqh >= self.len || self.iqt >= self.len {
            return Err("IQH or IQT outside the ring");
        }
        if !self.qies && self.ninflight != 0 {
            return Err("descriptors in flight while QI is disabled");
        }
        if self.ninflight as usize > MAX_INFLIGHT {
            return Err("more descriptors in flight than the engine holds");
        }
        if self.fsts & !fsts::QI_MASK != 0 {
            return Err("FSTS has bits the model does not set");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(q: &mut Iq, s: u16, ty: DescType) {
        q.ring[s as usize] = Desc {
            ty,
            status: s,
            sw: ty == DescType::Wait,
            ..Desc::EMPTY
        };
    }

    #[test]
    fn fetch_advances_iqh_and_invalid_descriptor_stops_at_iqh() {
        let mut q = Iq::new(8, 1, 1000);
        put(&mut q, 0, DescType::Iotlb);
        put(&mut q, 1, DescType::Wait);
        q.ring[1].invalid = true;
        q.iqt = 2;
        assert_eq!(q.fetch(), Effect::Fetched(0, DescType::Iotlb));
        assert_eq!(q.fetch(), Effect::Iqe(1));
        assert_eq!(q.iqh, 1);
        assert!(!q.can_fetch());
        assert!(q.irq_pending);
        q.write_fsts(fsts::IQE);
        assert!(q.can_fetch());
        assert!(q.check().is_ok());
    }

    #[test]
    fn wait_completes_only_after_everything_ahead() {
        let mut q = Iq::new(8, 1, 1000);
        put(&mut q, 0, DescType::DevTlb);
        put(&mut q, 1, DescType::Wait);
        q.iqt = 2;
        q.fetch();
        q.fetch();
        assert!(!q.may_execute(1), "wait held back by the ATS request");
        assert_eq!(q.execute(0), Effect::AtsSent(0, 0));
        q.arm(0, 5);
        assert_eq!(q.next_deadline(), Some(1005));
        assert!(!q.may_execute(1));
        let e = q.ats_answer(0);
        assert!(matches!(e, Effect::AtsDone(_)));
        assert!(q.may_execute(0), "the wait moved to the front");
        assert!(matches!(q.execute(0), Effect::StatusWrite(f) if f.desc.status == 1));
        assert_eq!(q.ninflight, 0);
    }

    #[test]
    fn ite_drops_pending_waits_and_stops_fetching() {
        let mut q = Iq::new(8, 2, 1000);
        put(&mut q, 0, DescType::DevTlb);
        put(&mut q, 1, DescType::Wait);
        put(&mut q, 2, DescType::Iotlb);
        put(&mut q, 3, DescType::Wait);
        q.iqt = 4;
        for _ in 0..4 {
            q.fetch();
        }
        q.execute(0);
        let e = q.ite(0);
        assert_eq!(
            e,
            Effect::Ite {
                slot: 0,
                tag: Desc::EMPTY.tag,
                dev: 0,
                dropped: 2
            }
        );
        assert_eq!(q.itesid, sid_of(0));
        assert_eq!(q.iqh, 4);
        assert!(q.fsts & fsts::ITE != 0);
        assert_eq!(q.inflight().len(), 1, "the IOTLB invalidation stays");
        assert!(q.devs[0].late_answer);
    }

    #[test]
    fn translation_off_turns_ats_answers_into_ur() {
        let mut q = Iq::new(8, 1, 1000);
        put(&mut q, 0, DescType::DevTlb);
        q.iqt = 1;
        q.fetch();
        q.execute(0);
        q.set_translation(false);
        assert_eq!(q.ats_answer(0), Effect::None);
        assert!(
            matches!(q.inflight[0].phase, Phase::Sent { .. }),
            "the request stays out"
        );
    }

    #[test]
    fn unfetched_window_wraps() {
        let mut q = Iq::new(8, 1, 1000);
        q.iqh = 6;
        q.iqt = 1;
        assert!(q.unfetched(6) && q.unfetched(7) && q.unfetched(0));
        assert!(!q.unfetched(1) && !q.unfetched(5));
    }
}
