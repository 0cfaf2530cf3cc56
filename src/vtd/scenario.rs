//! VT-d scenarios: the Arbitrary encoding every fuzz front end shares, the JSON scenario file,
//! and the runner that executes one scenario on a variant.
//!
//! Raw layout: a short head (CPUs, their operations, listed faults and environment events,
//! configuration) decoded with `arbitrary`; every remaining byte is one scheduling decision.

use super::driver::{cpu_main, QI_MAX_BATCHED_DESC_COUNT};
use super::hw::MAX_DEVS;
use super::label::{parse_step, step_label, Act};
use super::ops::{Config, EnvEvent, Fault, Inv, Op, Program};
use super::variants::{self, Variant};
use super::world::{Vtd, MAX_EVENTS};
use crate::oracle::{OracleMask, Suppressions};
use crate::sim::choice::{Bytes, Decide, Replay, Step};
use crate::sim::cpu::Cx;
use crate::sim::executor::{self, End, Exec, Limits, RunOpts};
use crate::sim::MAX_CPUS;
use arbitrary::{Arbitrary, Result as AResult, Unstructured};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::pin::pin;

/// Most operations per CPU in a scenario file.
pub const MAX_OPS: usize = 32;

/// A VT-d scenario: configuration, CPU programs, listed faults and events, and decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Queue and device configuration.
    pub config: Config,
    /// One program per CPU (1 to 4).
    pub cpus: Vec<Program>,
    /// Faults the decisions may inject, each once.
    pub faults: Vec<Fault>,
    /// Environment events the decisions may fire, each once.
    pub env: Vec<EnvEvent>,
    /// Raw decision bytes (raw inputs only).
    #[serde(skip)]
    pub decisions: Vec<u8>,
}

fn inv(u: &mut Unstructured, ndevs: u8) -> AResult<Inv> {
    let dev = u.int_in_range(0..=ndevs - 1)?;
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Inv::Iotlb,
        1 => Inv::DevTlb(dev),
        2 => Inv::Piotlb,
        3 => Inv::DevTlbPasid(dev),
        4 => Inv::Context,
        _ => Inv::Iec,
    })
}

fn op(u: &mut Unstructured, cfg: &Config) -> AResult<Op> {
    let dev = u.int_in_range(0..=cfg.ndevs - 1)?;
    Ok(match u.int_in_range(0..=9u8)? {
        6 => Op::PrqDrain(dev),
        7 => Op::Teardown(dev),
        // The machine-wide operations share one kind; a second byte picks which.
        9 => match u.int_in_range(0..=2u8)? {
            0 => Op::Shutdown,
            1 => Op::DisableQi,
            _ => Op::ReenableQi,
        },
        _ => {
            let mut n = u.int_in_range(0..=7usize)?;
            if n == 7 {
                n = u.int_in_range(7..=QI_MAX_BATCHED_DESC_COUNT)?;
            }
            let n = n.min(cfg.qlen as usize - 2);
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(inv(u, cfg.ndevs)?);
            }
            Op::Flush(v)
        }
    })
}

fn fault(u: &mut Unstructured, ndevs: u8) -> AResult<Fault> {
    let dev = u.int_in_range(0..=ndevs - 1)?;
    Ok(match u.int_in_range(0..=3u8)? {
        0 | 1 => Fault::Ite(dev),
        2 => Fault::Iqe,
        _ => Fault::Ice(dev),
    })
}

fn env(u: &mut Unstructured, ndevs: u8) -> AResult<EnvEvent> {
    let dev = u.int_in_range(0..=ndevs - 1)?;
    Ok(match u.int_in_range(0..=3u8)? {
        0 => EnvEvent::Hang(dev),
        1 => EnvEvent::Recover(dev),
        2 => EnvEvent::Remove(dev),
        _ => EnvEvent::LinkDown(dev),
    })
}

impl Scenario {
    fn head(u: &mut Unstructured) -> AResult<Self> {
        let ncpus = u.int_in_range(1..=MAX_CPUS as u8)?;
        let qlen = *u.choose(&[8u16, 16, 8, 32])?;
        let ndevs = u.int_in_range(1..=3u8)?;
        let any_count = u.int_in_range(0..=3u8)? == 0;
        let config = Config {
            qlen,
            ndevs,
            any_count,
            ..Config::default()
        };
        let mut cpus = Vec::with_capacity(ncpus as usize);
        for _ in 0..ncpus {
            let n = u.int_in_range(0..=3usize)?;
            let mut ops = Vec::with_capacity(n);
            for _ in 0..n {
                ops.push(op(u, &config)?);
            }
            cpus.push(Program { ops });
        }
        let nf = u.int_in_range(0..=3usize)?;
        let mut faults = Vec::with_capacity(nf);
        for _ in 0..nf {
            faults.push(fault(u, ndevs)?);
        }
        let ne = u.int_in_range(0..=2usize)?;
        let mut envs = Vec::with_capacity(ne);
        for _ in 0..ne {
            envs.push(env(u, ndevs)?);
        }
        Ok(Scenario {
            config,
            cpus,
            faults,
            env: envs,
            decisions: Vec::new(),
        })
    }

    /// Checks a scenario (from JSON or hand-written) against the model's limits.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.config;
        if !(8..=256).contains(&c.qlen) || c.qlen % 2 != 0 {
            return Err(format!(
                "config.qlen must be even and in 8..=256, got {}",
                c.qlen
            ));
        }
        if c.ndevs == 0 || c.ndevs as usize > MAX_DEVS {
            return Err(format!(
                "config.ndevs must be in 1..={MAX_DEVS}, got {}",
                c.ndevs
            ));
        }
        if c.ats_timeout_ms == 0 || c.ats_timeout_ms > 600_000 {
            return Err("config.ats_timeout_ms must be in 1..=600000".into());
        }
        if self.cpus.is_empty() || self.cpus.len() > MAX_CPUS {
            return Err(format!(
                "cpus must list 1..={MAX_CPUS} programs, got {}",
                self.cpus.len()
            ));
        }
        if self.faults.len() > MAX_EVENTS || self.env.len() > MAX_EVENTS {
            return Err(format!(
                "at most {MAX_EVENTS} faults and {MAX_EVENTS} env events"
            ));
        }
        let dev_ok = |d: u8| d < c.ndevs;
        for (i, p) in self.cpus.iter().enumerate() {
            if p.ops.len() > MAX_OPS {
                return Err(format!("cpu{i}: at most {MAX_OPS} operations"));
            }
            for o in &p.ops {
                let ok = match o {
                    Op::Flush(v) => {
                        v.len() <= QI_MAX_BATCHED_DESC_COUNT.min(c.qlen as usize - 2)
                            && v.iter().all(|x| match x {
                                Inv::DevTlb(d) | Inv::DevTlbPasid(d) => dev_ok(*d),
                                _ => true,
                            })
                    }
                    Op::PrqDrain(d) | Op::Teardown(d) => dev_ok(*d),
                    Op::Shutdown | Op::DisableQi | Op::ReenableQi => true,
                };
                if !ok {
                    return Err(format!(
                        "cpu{i}: operation {o:?} names an absent device or too many descriptors"
                    ));
                }
            }
        }
        let fdev = self.faults.iter().all(|f| match f {
            Fault::Ite(d) | Fault::Ice(d) => dev_ok(*d),
            Fault::Iqe => true,
        });
        if !fdev || !self.env.iter().all(|e| dev_ok(e.dev())) {
            return Err("a fault or env event names an absent device".into());
        }
        Ok(())
    }
}

impl<'a> Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut Unstructured<'a>) -> AResult<Self> {
        let mut s = Self::head(u)?;
        let n = u.int_in_range(0..=256usize)?;
        s.decisions = u.bytes(n.min(u.len()))?.to_vec();
        Ok(s)
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> AResult<Self> {
        let mut s = Self::head(&mut u)?;
        s.decisions = u.take_rest().to_vec();
        Ok(s)
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (0, None)
    }
}

/// Decodes raw fuzzer bytes: the one decoder every front end uses.
pub fn decode(data: &[u8]) -> Scenario {
    // Decoding never fails: arbitrary yields the smallest choice when bytes run out.
    Scenario::arbitrary_take_rest(Unstructured::new(data)).unwrap_or_else(|_| Scenario {
        config: Config::default(),
        cpus: vec![Program::default()],
        faults: Vec::new(),
        env: Vec::new(),
        decisions: Vec::new(),
    })
}

/// The JSON scenario file: a scenario plus model, variant and labelled decisions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScenarioFile {
    /// Always "vtd" for this model.
    pub model: String,
    /// Variant the decisions were recorded on.
    pub variant: String,
    /// The scenario.
    #[serde(flatten)]
    pub scenario: Scenario,
    /// Labelled decisions, replayed by meaning.
    pub decisions: Vec<String>,
    /// Decisions taken before the healing phase.
    pub heal_at: usize,
}

impl ScenarioFile {
    /// Parses the labelled decisions.
    pub fn steps(&self) -> Result<Vec<Step<Act>>, String> {
        self.decisions
            .iter()
            .map(|s| parse_step(s).ok_or_else(|| format!("unknown decision label {s:?}")))
            .collect()
    }
}

/// Where decisions come from.
pub type Source<'a> = crate::sim::outcome::Source<'a, Act>;
pub use crate::sim::outcome::Verdict;

/// Runs scenarios, reusing its buffers across executions.
pub struct Runner {
    cell: RefCell<Vtd>,
    ex: Exec<Act>,
    /// Bounds of each execution.
    pub limits: Limits,
    /// Oracle classes that are on.
    pub mask: OracleMask,
    /// Signatures that do not stop a run.
    pub sup: Suppressions,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            cell: RefCell::new(Vtd::new(variants::newest(), Config::default(), 1)),
            ex: Exec::default(),
            limits: Limits::default(),
            mask: OracleMask::default(),
            sup: crate::default_suppressions(),
        }
    }
}

impl Runner {
    /// Runs `sc` on `v` with decisions from `src`.
    pub fn run(&mut self, sc: &Scenario, v: &'static Variant, src: Source) -> Verdict {
        let ncpus = sc.cpus.len().clamp(1, MAX_CPUS) as u8;
        {
            let mut w = self.cell.borrow_mut();
            w.reset(v, sc.config, ncpus);
            for (i, f) in sc.faults.iter().take(MAX_EVENTS).enumerate() {
                w.faults[i] = Some(*f);
            }
            for (i, e) in sc.env.iter().take(MAX_EVENTS).enumerate() {
                w.env[i] = Some(*e);
            }
        }
        // Each source gets its own monomorphic executor loop (no dynamic dispatch per step).
        let end = match src {
            Source::Bytes(b) => self.exec(sc, &mut Bytes::new(b)),
            Source::Replay(log, h) => self.exec(sc, &mut Replay::new(log, h)),
        };
        let w = self.cell.borrow();
        debug_assert!(end == End::Violation || self.ex.findings.violation.is_none());
        Verdict::of(&self.ex, w.trace.hash())
    }

    fn exec<D: Decide<Act>>(&mut self, sc: &Scenario, src: &mut D) -> End {
        let empty = Program::default();
        let p = |i: usize| sc.cpus.get(i).unwrap_or(&empty);
        let cell = &self.cell;
        let f0 = pin!(cpu_main(Cx::new(0, cell), p(0)));
        let f1 = pin!(cpu_main(Cx::new(1, cell), p(1)));
        let f2 = pin!(cpu_main(Cx::new(2, cell), p(2)));
        let f3 = pin!(cpu_main(Cx::new(3, cell), p(3)));
        let mut futs = [f0, f1, f2, f3];
        let o = RunOpts {
            limits: self.limits,
            mask: self.mask,
            sup: &self.sup,
        };
        executor::run(cell, &mut futs, src, &o, &mut self.ex)
    }

    /// The world after the last run (trace, queue state).
    pub fn world(&self) -> std::cell::Ref<'_, Vtd> {
        self.cell.borrow()
    }

    /// The labelled decisions of the last run and where healing began.
    pub fn decisions(&self) -> (Vec<String>, usize) {
        let log = self.ex.log.iter().map(step_label).collect();
        (log, self.ex.heal_at.unwrap_or(self.ex.log.len()))
    }

    /// Index chosen at each logged decision of the last run (see `Exec::picks`).
    pub fn picks(&self) -> &[u16] {
        &self.ex.picks
    }

    /// Converts the last run into a JSON scenario file.
    pub fn to_file(&self, sc: &Scenario, v: &Variant) -> ScenarioFile {
        let (decisions, heal_at) = self.decisions();
        ScenarioFile {
            model: "vtd".into(),
            variant: v.name.into(),
            scenario: sc.clone(),
            decisions,
            heal_at,
        }
    }
}
