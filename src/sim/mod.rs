//! The domain-agnostic deterministic simulation kernel.
//!
//! Simulated CPUs run driver code as `async fn`s on one OS thread; every access to shared state
//! is preceded by a yield point, so the decision source chooses, at every step, which CPU or
//! which hardware action moves next. Nothing here knows about VT-d or SMMUv3: a model plugs in
//! through the [`executor::World`] trait.

pub mod cell;
pub mod choice;
pub mod clock;
pub mod cpu;
pub mod dfs;
pub mod executor;
pub mod leaf;
pub mod model;
pub mod outcome;
pub mod pct;
pub mod runner;
pub mod scenario;
pub mod trace;

/// Most CPUs a scenario can run (the 1 to 4 submitters).
pub const MAX_CPUS: usize = 4;
/// Most spinlocks a model declares.
pub const MAX_LOCKS: usize = 8;
