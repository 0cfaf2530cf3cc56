//! Probabilistic concurrency testing (PCT; Burckhardt, Kothari, Musuvathi, Nagarakatte,
//! ASPLOS 2010) as a decision source.
//!
//! Every actor gets a random priority; each decision runs the enabled actor with the highest.
//! At `d - 1` decisions drawn at random the actor about to run drops below every other, which
//! is how PCT reaches a bug of depth `d` (one needing `d` ordering constraints) with probability
//! at least 1 / (n * k^(d-1)) per run, where random walks tend to dilute long orderings. Actors
//! here are the CPUs and, on the model's side, each kind of action (fetch, execute, a device's
//! answer, an injected fault, ...): a kind with a high priority acts as soon as it can. After
//! `horizon` decisions the run heals, like every other source.

use super::choice::{Decide, RoundRobin, Step};
use super::trace::Mix;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hash::{Hash, Hasher};

/// Most distinct actors whose priorities a run tracks (CPUs plus kinds of model action).
const MAX_ACTORS: usize = 32;

/// The PCT decision source of one run.
#[derive(Debug)]
pub struct Pct {
    rng: StdRng,
    horizon: usize,
    /// Decision numbers (from 1: the first decision follows the initial priorities) at which
    /// the chosen actor's priority drops.
    change_at: Vec<usize>,
    /// Actor keys seen so far, and their priorities (higher runs first).
    keys: Vec<u64>,
    prio: Vec<i64>,
    decisions: usize,
    rr: RoundRobin,
}

impl Pct {
    /// A run seeded by `seed`, aiming at bugs of depth `depth` within `horizon` decisions.
    pub fn new(seed: u64, depth: u32, horizon: usize) -> Self {
        let mut p = Pct {
            rng: StdRng::seed_from_u64(seed),
            horizon,
            change_at: Vec::with_capacity(depth as usize),
            keys: Vec::with_capacity(MAX_ACTORS),
            prio: Vec::with_capacity(MAX_ACTORS),
            decisions: 0,
            rr: RoundRobin::default(),
        };
        p.reset(seed, depth, horizon);
        p
    }

    /// Starts a new run as `new` would, keeping the buffers (explore runs millions).
    pub fn reset(&mut self, seed: u64, depth: u32, horizon: usize) {
        self.rng = StdRng::seed_from_u64(seed);
        self.horizon = horizon;
        self.change_at.clear();
        for _ in 1..depth.max(1) {
            let c = self.rng.random_range(1..horizon.max(2));
            self.change_at.push(c);
        }
        self.keys.clear();
        self.prio.clear();
        self.decisions = 0;
        self.rr = RoundRobin::default();
    }

    /// Which actor takes step `s`: a CPU, or the kind of model action.
    fn key<A: Hash>(s: &Step<A>) -> u64 {
        match s {
            Step::Cpu(c) => u64::from(*c),
            Step::Model(a) => {
                let mut h = Mix(Mix::SEED);
                std::mem::discriminant(a).hash(&mut h);
                h.finish() | 1 << 63
            }
        }
    }

    /// The priority of actor `k`, drawn when it is first seen.
    fn priority(&mut self, k: u64) -> usize {
        if let Some(i) = self.keys.iter().position(|&x| x == k) {
            return i;
        }
        assert!(self.keys.len() < MAX_ACTORS, "more actors than PCT tracks");
        self.keys.push(k);
        // Initial priorities are positive; dropped ones are negative, below all of them.
        self.prio.push(self.rng.random_range(1..i64::MAX));
        self.keys.len() - 1
    }

    fn best<A: Hash>(&mut self, enabled: &[Step<A>]) -> usize {
        let mut best = 0;
        let mut top = i64::MIN;
        for (i, s) in enabled.iter().enumerate() {
            let a = self.priority(Self::key(s));
            if self.prio[a] > top {
                top = self.prio[a];
                best = i;
            }
        }
        best
    }
}

impl<A: Hash> Decide<A> for Pct {
    fn choose(&mut self, enabled: &[Step<A>]) -> usize {
        if self.decisions >= self.horizon {
            return self.rr.pick(enabled.len());
        }
        let now = self.decisions;
        self.decisions += 1;
        let mut i = self.best(enabled);
        let drops = self.change_at.iter().filter(|&&c| c == now).count();
        for _ in 0..drops {
            let a = self.priority(Self::key(&enabled[i]));
            self.prio[a] = -(now as i64) - 1;
            i = self.best(enabled);
        }
        i
    }
    fn healing(&self) -> bool {
        self.decisions >= self.horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_actor_keeps_running_until_a_change_point() {
        let en = [Step::<u8>::Cpu(0), Step::Cpu(1), Step::Cpu(2)];
        let mut p = Pct::new(5, 1, 50);
        let first = p.choose(&en);
        for _ in 0..40 {
            assert_eq!(p.choose(&en), first, "no change point at depth 1");
        }
    }

    #[test]
    fn a_change_point_hands_over_to_another_actor() {
        let en = [Step::<u8>::Cpu(0), Step::Cpu(1)];
        for seed in 0..20 {
            let mut p = Pct::new(seed, 2, 10);
            let picks: Vec<usize> = (0..10).map(|_| p.choose(&en)).collect();
            assert!(
                picks.windows(2).filter(|w| w[0] != w[1]).count() == 1,
                "seed {seed}: exactly one switch, at the change point: {picks:?}"
            );
            assert!(Decide::<u8>::healing(&p));
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let en = [
            Step::Cpu(0),
            Step::Cpu(1),
            Step::Model(3u8),
            Step::Model(4u8),
        ];
        let run = |s| {
            let mut p = Pct::new(s, 3, 30);
            (0..30).map(|_| p.choose(&en)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
    }
}
