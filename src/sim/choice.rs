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
        // 32-bit division, as for bytes: a run takes far fewer than 2^32 decisions, so the
        // value is the same and the latency a fraction.
        debug_assert!(self.next < 1 << 32);
        let i = (self.next as u32 % n as u32) as usize;
        self.next = self.next.wrapping_add(1);
        i
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
                // 32-bit division: same value (the list is short), a fraction of the latency.
                (u32::from(*b) % enabled.len() as u32) as usize
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
