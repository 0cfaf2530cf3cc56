//! Bounded exhaustive search: every schedule of a scenario within a bound, run one after the
//! other (stateless model checking, as CHESS and shuttle's DFS scheduler do it).
//!
//! A schedule is the list of indices picked at the run's real decisions. The default schedule
//! picks index 0 everywhere (the lowest-numbered CPU first, the hardware when no CPU can move);
//! a *deviation* is any other pick. The bound is delay bounding (Emmi, Qadeer, Rakamaric,
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
    /// Picks the current run replays before taking index 0.
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
            prefix: Vec::with_capacity(depth),
            picks: Vec::with_capacity(depth),
            widths: Vec::with_capacity(depth),
            rr: RoundRobin::default(),
        }
    }

    /// The picks the last run took at its bounded decisions.
    pub fn picks(&self) -> &[u16] {
        &self.picks
    }

    /// Prepares the next schedule after a run; false when every schedule within the bound has
    /// been run. The next schedule keeps the last run's picks up to the deepest decision that
    /// has an untried pick within the deviation bound, and takes that pick there.
    pub fn advance(&mut self) -> bool {
        assert_eq!(self.picks.len(), self.widths.len());
        // Deviations among picks[..j], for every j.
        let mut before = Vec::with_capacity(self.picks.len());
        let mut devs = 0u32;
        for &p in &self.picks {
            before.push(devs);
            devs += u32::from(p != 0);
        }
        let deepest = (0..self.picks.len())
            .rev()
            .find(|&j| self.picks[j] + 1 < self.widths[j] && before[j] < self.max_dev);
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
        self.rr = RoundRobin::default();
        more
    }
}

impl<A> Decide<A> for Dfs {
    fn choose(&mut self, enabled: &[Step<A>]) -> usize {
        let n = enabled.len();
        let pos = self.picks.len();
        if pos >= self.depth {
            return self.rr.pick(n);
        }
        let i = self.prefix.get(pos).copied().unwrap_or(0);
        // The prefix comes from a run of the same scenario: deterministic, so the same choices.
        assert!(
            usize::from(i) < n,
            "a replayed prefix met a different decision"
        );
        self.picks.push(i);
        self.widths.push(n as u16);
        usize::from(i)
    }
    fn healing(&self) -> bool {
        self.picks.len() >= self.depth
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
