//! The event log every report is rendered from.
//!
//! Events are small `Copy` values pushed into a buffer reused across executions; rendering to
//! text happens only when a report is printed. The trace hash (FNV-1a over every event) is the
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
#[derive(Debug)]
pub struct Trace<E> {
    /// Events in order.
    pub entries: Vec<Entry<E>>,
    /// Capacity limit: a runaway run stops recording rather than growing without bound.
    pub limit: usize,
    /// Events dropped after the limit was reached.
    pub dropped: u64,
}

impl<E: Copy + Hash> Trace<E> {
    /// An empty trace that keeps at most `limit` entries.
    pub fn new(limit: usize) -> Self {
        Trace {
            entries: Vec::with_capacity(limit.min(4096)),
            limit,
            dropped: 0,
        }
    }

    /// Forget everything; keeps the buffer for the next execution.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.dropped = 0;
    }

    /// Appends one event.
    #[inline]
    pub fn push(&mut self, t: Time, who: Actor, ev: E) {
        if self.entries.len() < self.limit {
            self.entries.push(Entry { t, who, ev });
        } else {
            self.dropped += 1;
        }
    }

    /// FNV-1a hash of every entry: equal traces give equal hashes.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        for e in &self.entries {
            e.t.hash(&mut h);
            e.who.hash(&mut h);
            e.ev.hash(&mut h);
        }
        self.dropped.hash(&mut h);
        h.finish()
    }
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
