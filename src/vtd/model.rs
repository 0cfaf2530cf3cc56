//! The VT-d model as the shared runner and campaign tools see it.

use super::label::{parse_step, step_label, Act};
use super::ops::{Config, EnvEvent, Fault, Op, Program};
use super::scenario::{self, Scenario};
use super::variants::{Variant, VARIANTS};
use super::world::Vtd;
use crate::sim::choice::Step;
use crate::sim::cpu::Cx;
use crate::sim::model::Model;
use arbitrary::{Result as AResult, Unstructured};
use std::future::Future;

/// Intel VT-d queued invalidation (drivers/iommu/intel/dmar.c).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VtdModel;

crate::impl_variant!(Variant);

impl Model for VtdModel {
    const NAME: &'static str = "vtd";
    const SUPPRESSIONS: &'static str = crate::DEFAULT_SUPPRESSIONS;
    type World = Vtd;
    type Variant = Variant;
    type Config = Config;
    type Op = Op;
    type Fault = Fault;
    type Env = EnvEvent;

    fn variants() -> &'static [Variant] {
        VARIANTS
    }

    fn world() -> Vtd {
        Vtd::new(super::variants::newest(), Config::default(), 1)
    }

    fn head(u: &mut Unstructured) -> AResult<Scenario> {
        scenario::head(u)
    }

    fn validate(sc: &Scenario) -> Result<(), String> {
        sc.validate()
    }

    fn start(w: &mut Vtd, sc: &Scenario, v: &'static Variant, ncpus: u8) {
        w.reset(v, sc.config, ncpus);
        w.list_events(&sc.faults, &sc.env);
        w.pri = pri_devices(sc);
    }

    fn cpu_main<'a>(cx: Cx<'a, Vtd>, prog: &'a Program) -> impl Future<Output = ()> + 'a {
        super::driver::cpu_main(cx, prog)
    }

    fn trace_hash(w: &Vtd) -> u64 {
        w.trace.hash()
    }

    fn set_tracing(w: &mut Vtd, on: bool) {
        w.trace.on = on;
    }

    fn step_label(s: &Step<Act>) -> String {
        step_label(s)
    }

    fn parse_step(s: &str) -> Option<Step<Act>> {
        parse_step(s)
    }
}

/// The devices a program drains the page request queue of: those have PRI enabled.
fn pri_devices(sc: &Scenario) -> u8 {
    let ops = sc.cpus.iter().flat_map(|p| p.ops.iter());
    ops.fold(0, |m, o| match o {
        super::ops::Op::PrqDrain(d) => m | 1 << d,
        _ => m,
    })
}
