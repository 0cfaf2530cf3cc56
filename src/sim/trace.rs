//! The event log every report is rendered from.
//!
//! Events are small `Copy` values pushed into a buffer reused across executions; rendering to
//! text happens only when a report is printed. The trace hash, kept as events are pushed, is the
//! determinism check: the same input must give the same hash, in debug and release.

use super::clock::Time;
use std::hash::{Hash, Hasher};

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A simulated CPU running driver code.
    Cpu(u8),
    /// The IOMMU's queue engine.
    Hw,
    /// An ATS endpoint.
    Dev(u8),
    /// An interrupt handler running on a CPU.
    Irq(u8),
    /// The environment (hang, removal, the fuzzer's fault injection).
    Env,
}

/// One entry of the trace: when, who, what.
#[derive(Clone, Copy, Debug)]
pub struct Entry<E> {
    /// Virtual time of the event.
    pub t: Time,
    /// The actor.
    pub who: Actor,
    /// The model's event.
    pub ev: E,
}

/// The event log of one execution.
///
/// A search loop (fuzz targets, `explore`, `bench`) only needs verdicts, so it can switch
/// recording off: events are then neither stored nor hashed, and a run whose report is wanted
/// is run again with recording on (same input, same run).
#[derive(Debug)]
pub struct Trace<E> {
    /// Recording: off, `push` does nothing and the hash stays at its seed.
    pub on: bool,
    /// Events in order.
    pub entries: Vec<Entry<E>>,
    /// Capacity limit: a runaway run stops recording rather than growing without bound.
    pub limit: usize,
    /// Events dropped after the limit was reached.
    pub dropped: u64,
    /// Running hash of every event pushed, recorded or not.
    running: u64,
}

impl<E: Copy + Hash> Trace<E> {
    /// An empty trace that keeps at most `limit` entries.
    pub fn new(limit: usize) -> Self {
        Trace {
            on: true,
            entries: Vec::with_capacity(limit.min(4096)),
            limit,
            dropped: 0,
            running: Mix::SEED,
        }
    }

    /// Forget everything; keeps the buffer for the next execution.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.dropped = 0;
        self.running = Mix::SEED;
    }

    /// Appends one event.
    #[inline]
    pub fn push(&mut self, t: Time, who: Actor, ev: E) {
        if !self.on {
            return;
        }
        let mut h = Mix(self.running);
        t.hash(&mut h);
        who.hash(&mut h);
        ev.hash(&mut h);
        self.running = h.0;
        if self.entries.len() < self.limit {
            self.entries.push(Entry { t, who, ev });
        } else {
            self.dropped += 1;
        }
    }

    /// Hash of every event of the run: equal traces give equal hashes, in debug and release.
    pub fn hash(&self) -> u64 {
        self.running
    }
}

/// A multiply-rotate mixer (the FxHash shape) fed integer by integer: stable across builds,
/// unlike `DefaultHasher`, and cheap enough to run on every event.
#[derive(Clone, Copy)]
pub struct Mix(pub u64);

impl Mix {
    /// Initial state.
    pub const SEED: u64 = 0xcbf2_9ce4_8422_2325;

    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.add(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_event_and_resets() {
        let mut a = Trace::<u8>::new(1);
        let mut b = Trace::<u8>::new(8);
        a.push(1, Actor::Hw, 3);
        b.push(1, Actor::Hw, 3);
        assert_eq!(a.hash(), b.hash());
        a.push(2, Actor::Cpu(0), 4);
        assert_eq!(
            a.dropped, 1,
            "over the limit events are counted, not stored"
        );
        b.push(2, Actor::Cpu(1), 4);
        assert_ne!(a.hash(), b.hash());
        a.clear();
        assert_eq!(a.hash(), Mix::SEED);
    }
}
