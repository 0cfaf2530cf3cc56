//! VT-d scenarios: the raw encoding every fuzz front end shares (decoded with `arbitrary`) and
//! the limits a scenario file must keep. The runner and the file format are shared by every
//! model (`sim::runner`, `sim::scenario`).
//!
//! Raw layout: a short head (CPUs, their operations, listed faults and environment events,
//! configuration) decoded with `arbitrary`; every remaining byte is one scheduling decision.

use super::driver::QI_MAX_BATCHED_DESC_COUNT;
use super::hw::MAX_DEVS;
use super::model::VtdModel;
use super::ops::{Config, EnvEvent, Fault, Inv, Op, Program};
use super::world::MAX_EVENTS;
use crate::sim::MAX_CPUS;
use arbitrary::{Result as AResult, Unstructured};

/// Most operations per CPU in a scenario file.
pub const MAX_OPS: usize = 32;

/// A VT-d scenario: configuration, CPU programs, listed faults and events, and decisions.
pub type Scenario = crate::sim::scenario::Scenario<Config, Op, Fault, EnvEvent>;
/// The JSON scenario file of a VT-d run.
pub type ScenarioFile = crate::sim::scenario::ScenarioFile<VtdModel>;
/// Runs VT-d scenarios, reusing its buffers across executions.
pub type Runner = crate::sim::runner::Runner<VtdModel>;
/// Where decisions come from.
pub type Source<'a> = crate::sim::outcome::Source<'a, super::label::Act>;
pub use crate::sim::outcome::Verdict;

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

/// Decodes the head of a raw input: CPUs, their operations, listed faults and environment
/// events, configuration.
pub fn head(u: &mut Unstructured) -> AResult<Scenario> {
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

impl Scenario {
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

/// Decodes raw fuzzer bytes: the one decoder every front end uses.
pub fn decode(data: &[u8]) -> Scenario {
    crate::sim::model::decode::<VtdModel>(data)
}
