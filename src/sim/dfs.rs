//! Bounded exhaustive search: every schedule of a scenario within a bound, run one after the
//! other (stateless model checking, as CHESS and shuttle's DFS scheduler do it).
//!
//! A schedule is the list of indices picked at the run's real decisions. The default schedule
//! picks index 0 everywhere (the lowest-numbered CPU first, the hardware when no CPU can move),
//! or follows a base schedule (a reproducer's picks) where one is given; a *deviation* is any
//! other pick. Internally every pick is an offset from the default one, rotated over the
//! enabled steps, so the enumeration is the same with or without a base. The bound is delay bounding (Emmi, Qadeer, Rakamaric,
//! POPL 2011): at most `max_dev` deviations among the first `depth` decisions; after `depth`
//! decisions the run heals (no new faults, fair round-robin) so that it ends. Within that bound
//! the enumeration is complete: every run replays a prefix of the previous one and takes the
//! next untried pick at the deepest decision that still has one.

use super::choice::{Decide, RoundRobin, Step};

/// The decision source of one bounded exhaustive search; `advance` moves it to the next schedule.
#[derive(Debug)]
pub struct Dfs {
    depth: usize,
    max_dev: u32,
    /// The default pick at each decision (index 0 past its end).
    base: Vec<u16>,
    /// Decisions after which the run heals (the base's own heal point, else `depth`).
    heal_at: usize,
    /// Decisions taken so far in the current run.
    pos: usize,
    /// Offsets the current run replays before taking the default.
    prefix: Vec<u16>,
    /// Picks of the current run so far, and how many steps were enabled at each.
    picks: Vec<u16>,
    widths: Vec<u16>,
    rr: RoundRobin,
}

impl Dfs {
    /// A search over the first `depth` decisions with at most `max_dev` deviations, starting
    /// with the default schedule.
    pub fn new(depth: usize, max_dev: u32) -> Self {
        Dfs {
            depth,
            max_dev,
            base: Vec::new(),
            heal_at: depth,
            pos: 0,
            prefix: Vec::with_capacity(depth),
            picks: Vec::with_capacity(depth),
            widths: Vec::with_capacity(depth),
            rr: RoundRobin::default(),
        }
    }

    /// Deviations are counted from `base` (a run's picks) instead of from index 0, and runs
    /// heal where that run healed (`heal_at` decisions): with no deviation, a run is that run.
    /// Decisions past `depth` follow the base without being enumerated.
    pub fn around(mut self, base: &[u16], heal_at: usize) -> Self {
        self.base = base.to_vec();
        self.heal_at = heal_at;
        self
    }

    /// Decisions whose picks are enumerated.
    fn limit(&self) -> usize {
        self.depth.min(self.heal_at)
    }

    /// The offsets from the default the last run took at its bounded decisions.
    pub fn picks(&self) -> &[u16] {
        &self.picks
    }

    /// Prepares the next schedule after a run; false when every schedule within the bound has
    /// been run. The next schedule keeps the last run's picks up to the deepest decision that
    /// has an untried pick within the deviation bound, and takes that pick there.
    pub fn advance(&mut self) -> bool {
        assert_eq!(self.picks.len(), self.widths.len());
        // Walking back from the end, `before` is the number of deviations among picks[..j].
        let mut before = self.picks.iter().filter(|&&p| p != 0).count() as u32;
        let mut deepest = None;
        for j in (0..self.picks.len()).rev() {
            before -= u32::from(self.picks[j] != 0);
            if self.picks[j] + 1 < self.widths[j] && before < self.max_dev {
                deepest = Some(j);
                break;
            }
        }
        self.prefix.clear();
        let more = match deepest {
            Some(j) => {
                self.prefix.extend_from_slice(&self.picks[..j]);
                self.prefix.push(self.picks[j] + 1);
                true
            }
            None => false,
        };
        self.picks.clear();
        self.widths.clear();
        self.pos = 0;
        self.rr = RoundRobin::default();
        more
    }
}

impl<A> Decide<A> for Dfs {
    fn choose(&mut self, enabled: &[Step<A>]) -> usize {
        let n = enabled.len();
        let pos = self.pos;
        self.pos += 1;
        if pos >= self.limit() {
            return match self.base.get(pos) {
                Some(&b) => usize::from(b) % n,
                None => self.rr.pick(n),
            };
        }
        let off = self.prefix.get(pos).copied().unwrap_or(0);
        // The prefix comes from a run of the same scenario: deterministic, so the same choices.
        assert!(
            usize::from(off) < n,
            "a replayed prefix met a different decision"
        );
        self.picks.push(off);
        self.widths.push(n as u16);
        let base = usize::from(self.base.get(pos).copied().unwrap_or(0));
        (base + usize::from(off)) % n
    }
    fn healing(&self) -> bool {
        self.pos >= self.heal_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search over a fixed tree where every decision has `w` options and there are
    /// `d` decisions, and returns the schedules it visited.
    fn visit(w: usize, d: usize, depth: usize, max_dev: u32) -> Vec<Vec<u16>> {
        let en: Vec<Step<u8>> = (0..w).map(|i| Step::Model(i as u8)).collect();
        let mut dfs = Dfs::new(depth, max_dev);
        let mut seen = Vec::new();
        loop {
            for _ in 0..d {
                Decide::<u8>::choose(&mut dfs, &en);
            }
            seen.push(dfs.picks().to_vec());
            if !dfs.advance() {
                return seen;
            }
        }
    }

    #[test]
    fn unbounded_search_visits_every_schedule_once() {
        let s = visit(3, 4, 4, 4);
        assert_eq!(s.len(), 81);
        let mut u = s.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), 81, "no schedule twice");
    }

    #[test]
    fn deviation_bound_counts_binomially() {
        // At most 2 deviations among 5 decisions with 3 options: 1 + 5*2 + C(5,2)*4 = 51.
        let s = visit(3, 5, 5, 2);
        assert_eq!(s.len(), 51);
        assert!(s.iter().all(|p| p.iter().filter(|&&x| x != 0).count() <= 2));
    }

    #[test]
    fn a_base_schedule_is_the_default_and_deviations_count_from_it() {
        let en: Vec<Step<u8>> = (0..3).map(Step::Model).collect();
        let mut dfs = Dfs::new(4, 1).around(&[2, 1, 0, 2], 4);
        let first: Vec<usize> = (0..4).map(|_| dfs.choose(&en)).collect();
        assert_eq!(first, vec![2, 1, 0, 2], "no deviation: the base itself");
        let mut runs = 1;
        while dfs.advance() {
            let got: Vec<usize> = (0..4).map(|_| dfs.choose(&en)).collect();
            let off = got
                .iter()
                .zip([2, 1, 0, 2])
                .filter(|(g, b)| **g != *b)
                .count();
            assert_eq!(off, 1, "one deviation from the base: {got:?}");
            runs += 1;
        }
        assert_eq!(runs, 1 + 4 * 2);
    }

    #[test]
    fn decisions_past_the_depth_heal_and_are_not_enumerated() {
        let s = visit(2, 6, 3, 3);
        assert_eq!(s.len(), 8);
        assert!(s.iter().all(|p| p.len() == 3));
        let mut dfs = Dfs::new(1, 1);
        let en = [Step::<u8>::Cpu(0), Step::Cpu(1)];
        assert!(!Decide::<u8>::healing(&dfs));
        dfs.choose(&en);
        assert!(Decide::<u8>::healing(&dfs));
    }
}
