//! The SMMUv3 model as the shared runner and campaign tools see it.

use super::ops::{Config, EnvEvent, Fault, Op, Program};
use super::scenario::{self, Scenario};
use super::variants::{Variant, VARIANTS};
use super::world::{parse_step, step_label, Act, Smmuv3};
use crate::sim::choice::Step;
use crate::sim::cpu::Cx;
use crate::sim::model::Model;
use arbitrary::{Result as AResult, Unstructured};
use std::future::Future;

/// The ARM SMMUv3 command queue (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Smmuv3Model;

crate::impl_variant!(Variant);

impl Model for Smmuv3Model {
    const NAME: &'static str = "smmuv3";
    /// None: this model's known findings live in suppressions/smmuv3-upstream-known.supp,
    /// which a campaign names explicitly.
    const SUPPRESSIONS: &'static str = "";
    type World = Smmuv3;
    type Variant = Variant;
    type Config = Config;
    type Op = Op;
    type Fault = Fault;
    type Env = EnvEvent;

    fn variants() -> &'static [Variant] {
        VARIANTS
    }

    fn world() -> Smmuv3 {
        Smmuv3::new(super::variants::newest(), &Config::default(), 1)
    }

    fn head(u: &mut Unstructured) -> AResult<Scenario> {
        scenario::head(u)
    }

    fn validate(sc: &Scenario) -> Result<(), String> {
        sc.validate()
    }

    fn start(w: &mut Smmuv3, sc: &Scenario, v: &'static Variant, ncpus: u8) {
        w.reset(v, &sc.config, ncpus);
        w.reboot.present = sc.has_reboot();
        w.list_events(&sc.faults, &sc.env);
    }

    fn cpu_main<'a>(cx: Cx<'a, Smmuv3>, prog: &'a Program) -> impl Future<Output = ()> + 'a {
        super::cpu_main(cx, prog)
    }

    fn trace_hash(w: &Smmuv3) -> u64 {
        w.trace.hash()
    }

    fn set_tracing(w: &mut Smmuv3, on: bool) {
        w.trace.on = on;
    }

    fn step_label(s: &Step<Act>) -> String {
        step_label(s)
    }

    fn parse_step(s: &str) -> Option<Step<Act>> {
        parse_step(s)
    }
}
