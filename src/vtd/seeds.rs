//! The VT-d seed corpus: one seed per operation, descriptor kind, fault kind and environment
//! event, plus a few configurations (four CPUs on a short ring, three devices, batches of 16).

use super::model::VtdModel;
use super::ops::{Config, EnvEvent, Fault, Inv, Op};
use super::scenario::Scenario;
use crate::cli::corpus::Spec;

/// The seeds, in a fixed order.
pub fn specs() -> Vec<Spec<VtdModel>> {
    let sc = Scenario::of;
    let c8 = Config::default();
    let c16 = Config {
        qlen: 16,
        ndevs: 2,
        ..c8
    };
    let mut v = Vec::new();
    let mut add = |name: &str, s: Scenario, needs: &'static str| {
        v.push(Spec {
            name: name.into(),
            sc: s,
            needs,
        })
    };
    let invs = [
        ("iotlb", Inv::Iotlb),
        ("devtlb", Inv::DevTlb(0)),
        ("piotlb", Inv::Piotlb),
        ("devtlb-pasid", Inv::DevTlbPasid(0)),
        ("context", Inv::Context),
        ("iec", Inv::Iec),
    ];
    for (n, i) in invs {
        add(
            &format!("op-flush-{n}"),
            sc(c8, vec![vec![Op::Flush(vec![i])]], vec![], vec![]),
            "",
        );
    }
    add(
        "op-prq-drain",
        sc(c8, vec![vec![Op::PrqDrain(0)]], vec![], vec![]),
        "",
    );
    add(
        "op-teardown",
        sc(c8, vec![vec![Op::Teardown(0)]], vec![], vec![]),
        "",
    );
    add(
        "op-shutdown",
        sc(
            c8,
            vec![vec![Op::Flush(vec![Inv::Iotlb]), Op::Shutdown]],
            vec![],
            vec![],
        ),
        "",
    );
    add(
        "op-disable-qi",
        sc(
            c8,
            vec![vec![Op::Flush(vec![Inv::Iotlb]), Op::DisableQi]],
            vec![],
            vec![],
        ),
        "",
    );
    add(
        "op-reenable-qi",
        sc(
            c8,
            vec![vec![
                Op::Flush(vec![Inv::Iotlb]),
                Op::ReenableQi,
                Op::Flush(vec![Inv::Iotlb]),
            ]],
            vec![],
            vec![],
        ),
        "",
    );
    let batch: Vec<Inv> = (0..16)
        .map(|i| invs[i % invs.len()].1)
        .map(|x| match x {
            Inv::DevTlb(_) => Inv::DevTlb(1),
            y => y,
        })
        .collect();
    add(
        "op-flush-batch16",
        sc(
            Config {
                qlen: 32,
                any_count: true,
                ..c16
            },
            vec![vec![Op::Flush(batch)], vec![Op::Flush(vec![Inv::Iotlb])]],
            vec![],
            vec![],
        ),
        "",
    );
    let two = |f: Vec<Fault>, e: Vec<EnvEvent>| {
        sc(
            c16,
            vec![
                vec![Op::Flush(vec![Inv::Iotlb, Inv::DevTlb(0)])],
                vec![Op::Flush(vec![Inv::DevTlb(1)]), Op::Teardown(1)],
            ],
            f,
            e,
        )
    };
    add("fault-ite", two(vec![Fault::Ite(0)], vec![]), "fault:ite");
    add("fault-iqe", two(vec![Fault::Iqe], vec![]), "fault:iqe");
    add("fault-ice", two(vec![Fault::Ice(1)], vec![]), "fault:ice");
    add(
        "env-hang",
        two(vec![], vec![EnvEvent::Hang(0), EnvEvent::Recover(0)]),
        "env:hang",
    );
    add(
        "env-recover",
        two(vec![], vec![EnvEvent::Hang(1), EnvEvent::Recover(1)]),
        "env:recover",
    );
    add(
        "env-remove",
        two(vec![], vec![EnvEvent::Remove(1)]),
        "env:remove",
    );
    add(
        "env-link-down",
        two(vec![], vec![EnvEvent::LinkDown(1)]),
        "env:link-down",
    );
    add(
        "cpus4-ring8",
        sc(
            c8,
            vec![vec![Op::Flush(vec![Inv::Iotlb]), Op::Flush(vec![Inv::Context])]; 4],
            vec![],
            vec![],
        ),
        "cpu3",
    );
    add(
        "devs3",
        sc(
            Config { ndevs: 3, ..c16 },
            vec![vec![Op::Flush(vec![Inv::DevTlb(2), Inv::DevTlbPasid(1)])]],
            vec![Fault::Ite(2)],
            vec![],
        ),
        "fault:ite",
    );
    v
}
