//! Decision sources: who picks the next step among the enabled ones.
//!
//! One trait, several implementations (the shape follows awslabs/shuttle's schedulers):
//! fuzzer bytes, a replay log matched by label, and a fair round-robin. A choice among a single
//! enabled step is forced and consumes nothing, so every input byte decides something real.
//! When a source has nothing left it switches to the healing phase: no new faults, fair order.

/// One enabled step: a CPU runs until its next yield point, or the model performs one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step<A> {
    /// CPU `n` runs to its next yield point.
    Cpu(u8),
    /// A hardware, device, interrupt, fault or environment action of the model.
    Model(A),
}

/// The number after `prefix` in a decision label (`cpu1`, `dev0`).
pub fn label_num<T: std::str::FromStr>(s: &str, prefix: &str) -> Option<T> {
    s.strip_prefix(prefix)?.parse().ok()
}

/// Splits a decision label: `Ok` for a CPU step (`cpu1`), else the model action's name and its
/// argument (`hw:exec 5` gives `("hw:exec", "5")`).
pub fn split_label<A>(s: &str) -> Result<Step<A>, (&str, &str)> {
    match label_num::<u8>(s, "cpu") {
        Some(c) => Ok(Step::Cpu(c)),
        None => Err(s.split_once(' ').unwrap_or((s, ""))),
    }
}

/// Picks the next step.
pub trait Decide<A> {
    /// Returns the index of the chosen step; `enabled` has at least two entries.
    fn choose(&mut self, enabled: &[Step<A>]) -> usize;
    /// True once the input's decisions are used up: no new faults, fair schedule. It may change
    /// only through [`Decide::choose`]: the executor asks again only after a choice.
    fn healing(&self) -> bool;
}

/// Fair round-robin: rotates through the enabled list. Used in the healing phase.
#[derive(Debug, Default, Clone)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// The next index in rotation for a list of `n` steps.
    #[inline]
    pub fn pick(&mut self, n: usize) -> usize {
        debug_assert!(n > 0 && n <= u32::MAX as usize);
        // A run takes far fewer than 2^32 decisions: the 32-bit remainder is the same value.
        debug_assert!(self.next < 1 << 32);
        let i = rem(self.next as u32, n);
        self.next = self.next.wrapping_add(1);
        i
    }
}

/// Lists up to this long take their remainder from [`RECIP`]; longer ones divide.
const RECIP_MAX: usize = 64;

/// `RECIP[n]` is 2^64 / n rounded up: with it `a % n` is two multiplications (Lemire, Kaser
/// and Kurz, "Faster remainder by direct computation", 2019), exact for every 32-bit `a`.
/// A division is the slowest instruction of a step, and every choice takes one.
const RECIP: [u64; RECIP_MAX + 1] = {
    let mut t = [0u64; RECIP_MAX + 1];
    let mut n = 1;
    while n <= RECIP_MAX {
        t[n] = (u64::MAX / n as u64).wrapping_add(1);
        n += 1;
    }
    t
};

/// `a % n` for a list of `n` steps (n >= 1).
#[inline(always)]
pub fn rem(a: u32, n: usize) -> usize {
    debug_assert!(n > 0);
    match RECIP.get(n) {
        // For n = 1 the entry wraps to 0, and so does the result.
        Some(&m) => {
            let low = m.wrapping_mul(u64::from(a));
            ((u128::from(low) * n as u128) >> 64) as usize
        }
        None => (a % n as u32) as usize,
    }
}

/// Decisions read from fuzzer bytes, one byte per real choice.
#[derive(Debug)]
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
    rr: RoundRobin,
}

/// The bytes that make a [`Bytes`] source take the choices `picks` (indexes among the enabled
/// steps): it picks `byte % n` with `index < n`, so each index is its own byte.
pub fn pick_bytes(picks: &[u16]) -> Result<Vec<u8>, String> {
    picks
        .iter()
        .map(|&p| u8::try_from(p).map_err(|_| format!("decision index {p} does not fit a byte")))
        .collect()
}

impl<'a> Bytes<'a> {
    /// Decides from `data`, then heals.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes {
            data,
            pos: 0,
            rr: RoundRobin::default(),
        }
    }
}

impl<A> Decide<A> for Bytes<'_> {
    #[inline]
    fn choose(&mut self, enabled: &[Step<A>]) -> usize {
        match self.data.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                rem(u32::from(*b), enabled.len())
            }
            None => self.rr.pick(enabled.len()),
        }
    }
    fn healing(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// Replays a recorded list of labelled decisions by meaning: each recorded step is taken when it
/// is enabled; a recorded step that is not enabled any more (the code changed) is skipped.
#[derive(Debug)]
pub struct Replay<A> {
    log: Vec<Step<A>>,
    pos: usize,
    heal_at: usize,
    skipped: usize,
    rr: RoundRobin,
}

impl<A: Copy + PartialEq> Replay<A> {
    /// Replays `log`; the healing phase starts after `heal_at` decisions.
    pub fn new(log: Vec<Step<A>>, heal_at: usize) -> Self {
        Replay {
            log,
            pos: 0,
            heal_at,
            skipped: 0,
            rr: RoundRobin::default(),
        }
    }

    /// How many recorded decisions did not match any enabled step.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

impl<A: Copy + PartialEq> Decide<A> for Replay<A> {
    fn choose(&mut self, enabled: &[Step<A>]) -> usize {
        while let Some(want) = self.log.get(self.pos) {
            self.pos += 1;
            if let Some(i) = enabled.iter().position(|s| s == want) {
                return i;
            }
            self.skipped += 1;
        }
        self.rr.pick(enabled.len())
    }
    fn healing(&self) -> bool {
        self.pos >= self.heal_at.min(self.log.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rem_is_the_remainder() {
        // Every byte against every list length the table covers, and beyond it; large
        // round-robin counters too.
        for n in 1..=RECIP_MAX + 3 {
            for a in (0..=1000u32).chain([u32::MAX, u32::MAX - 1, 1 << 31, 123_456_789]) {
                assert_eq!(rem(a, n), (a % n as u32) as usize, "{a} % {n}");
            }
        }
    }

    #[test]
    fn bytes_then_round_robin() {
        let en = [Step::<u8>::Cpu(0), Step::Cpu(1), Step::Model(7)];
        let mut b = Bytes::new(&[4, 2]);
        assert!(!Decide::<u8>::healing(&b));
        assert_eq!(b.choose(&en), 1);
        assert_eq!(b.choose(&en), 2);
        assert!(Decide::<u8>::healing(&b));
        assert_eq!(b.choose(&en), 0);
        assert_eq!(b.choose(&en), 1);
    }

    #[test]
    fn replay_skips_steps_that_are_not_enabled() {
        let log = vec![Step::Model(9u8), Step::Cpu(1), Step::Cpu(0)];
        let mut r = Replay::new(log, 3);
        let en = [Step::Cpu(0), Step::Cpu(1)];
        assert_eq!(r.choose(&en), 1);
        assert_eq!(r.skipped(), 1);
        assert!(!r.healing());
        assert_eq!(r.choose(&en), 0);
        assert!(r.healing());
    }
}
