//! The VT-d model as the shared runner and campaign tools see it.

use super::hw::MAX_DEVS;
use super::label::{parse_step, step_label, Act};
use super::ops::{Config, EnvEvent, Fault, Inv, Op, Program};
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
        w.domain = domains(sc);
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
        Op::PrqDrain(d) => m | 1 << d,
        _ => m,
    })
}

/// Which domain each device's DMA translation is attached to, named by its lowest device. A
/// device's RID translation belongs to exactly one domain, and a range flush invalidates the
/// device TLBs of that domain's devices: the devices one flush invalidates without PASID share
/// a domain, and so do, transitively, the flushes naming any of them. A PASID device-TLB
/// invalidation names no domain (a device may have several PASID domains).
fn domains(sc: &Scenario) -> [u8; MAX_DEVS] {
    let mut dom: [u8; MAX_DEVS] = std::array::from_fn(|d| d as u8);
    let flushes = sc
        .cpus
        .iter()
        .flat_map(|p| p.ops.iter())
        .filter_map(|o| match o {
            Op::Flush(invs) => Some(invs),
            _ => None,
        });
    for invs in flushes {
        // The classes of this flush's devices merge into one, named by the lowest label: each
        // label is its class's lowest device, so the merged label is the lowest of the union.
        let mut labels = 0u8;
        for i in invs {
            if let Inv::DevTlb(d) = i {
                labels |= 1 << dom[*d as usize];
            }
        }
        if labels.count_ones() < 2 {
            continue;
        }
        let low = labels.trailing_zeros() as u8;
        for l in dom.iter_mut() {
            if labels & (1 << *l) != 0 {
                *l = low;
            }
        }
    }
    debug_assert!(dom
        .iter()
        .enumerate()
        .all(|(d, &l)| l as usize <= d && dom[l as usize] == l));
    dom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushes(cpus: Vec<Vec<Vec<Inv>>>) -> Scenario {
        let cpus = cpus
            .into_iter()
            .map(|p| p.into_iter().map(Op::Flush).collect())
            .collect();
        Scenario::of(Config::default(), cpus, vec![], vec![])
    }

    #[test]
    fn devices_one_flush_names_share_a_domain_transitively() {
        use Inv::{DevTlb, DevTlbPasid, Iotlb};
        // Apart: nothing names two devices, and a PASID invalidation names no domain.
        let apart = flushes(vec![
            vec![vec![DevTlb(0), Iotlb], vec![DevTlb(3), DevTlbPasid(1)]],
            vec![vec![DevTlb(1), DevTlbPasid(2)]],
        ]);
        assert_eq!(domains(&apart), [0, 1, 2, 3]);
        // 3 with 2 (one CPU), then 2 with 1 (another): 1, 2, 3 are one domain, named 1.
        let chained = flushes(vec![
            vec![vec![DevTlb(3), DevTlb(2)]],
            vec![vec![Iotlb], vec![DevTlb(2), DevTlb(1)]],
        ]);
        assert_eq!(domains(&chained), [0, 1, 1, 1]);
        // Merging two classes that were named apart renames every member.
        let merged = flushes(vec![
            vec![vec![DevTlb(2), DevTlb(3)], vec![DevTlb(0), DevTlb(1)]],
            vec![vec![DevTlb(3), DevTlb(1)]],
        ]);
        assert_eq!(domains(&merged), [0, 0, 0, 0]);
    }
}
