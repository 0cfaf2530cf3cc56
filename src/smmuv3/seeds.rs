//! The SMMUv3 seed corpus: one seed per operation, fault and environment event (the reboot
//! included), plus CONS polling, a 256-entry queue, four CPUs and three clients.

use super::model::Smmuv3Model;
use super::ops::{Client, Config, EnvEvent, Fault, Op};
use super::scenario::Scenario;
use crate::cli::corpus::Spec;

/// The SMMUv3 seeds, in a fixed order: one per operation, fault and environment event (the
/// reboot included), plus CONS polling, a 256-entry queue, four CPUs and three clients.
pub fn specs() -> Vec<Spec<Smmuv3Model>> {
    let sc = Scenario::of;
    let ats = Client {
        ats: true,
        ..Client::default()
    };
    let base = Config::default();
    let two = Config {
        clients: vec![base.clients[0], ats],
        ..base.clone()
    };
    let mut v = Vec::new();
    let mut add = |name: &str, s: Scenario, needs: &'static str| {
        v.push(Spec {
            name: name.into(),
            sc: s,
            needs,
        })
    };
    let one = |ops: Vec<Op>| sc(base.clone(), vec![ops], vec![], vec![]);
    add("op-unmap", one(vec![Op::Unmap { dev: 0, pages: 4 }]), "");
    add(
        "op-unmap-big",
        one(vec![Op::Unmap { dev: 0, pages: 100 }]),
        "",
    );
    add(
        "op-sva-invalidate",
        one(vec![Op::SvaInvalidate { pages: 8 }]),
        "",
    );
    add("op-mm-release", one(vec![Op::MmRelease]), "");
    let exit = Op::Exit {
        delay_ms: 0,
        bufs: 2,
        pages: 2,
        dev: 0,
    };
    add("op-exit", one(vec![exit]), "");
    let shutdown = Config {
        clients: vec![Client {
            ats: true,
            shutdown_unmaps: 1,
            ..Client::default()
        }],
        ..base.clone()
    };
    add(
        "op-reboot",
        sc(
            shutdown,
            vec![vec![Op::Reboot], vec![Op::Unmap { dev: 0, pages: 2 }]],
            vec![],
            vec![],
        ),
        "env:reboot",
    );
    // Two CPUs and two ATS clients, so every fault and event has a queue to act on.
    let busy = |f: Vec<Fault>, e: Vec<EnvEvent>| {
        sc(
            two.clone(),
            vec![
                vec![
                    Op::Unmap { dev: 0, pages: 3 },
                    Op::SvaInvalidate { pages: 2 },
                ],
                vec![Op::Unmap { dev: 1, pages: 2 }, Op::MmRelease],
            ],
            f,
            e,
        )
    };
    add("fault-ill", busy(vec![Fault::Ill], vec![]), "fault:ill");
    add("fault-abt", busy(vec![Fault::Abt], vec![]), "fault:abt");
    add("fault-sfm", busy(vec![Fault::Sfm], vec![]), "fault:sfm");
    add(
        "fault-msi-abort",
        busy(vec![Fault::MsiAbort], vec![]),
        "fault:msi-abort",
    );
    add(
        "fault-wedge",
        busy(vec![Fault::Wedge], vec![]),
        "fault:wedge",
    );
    add(
        "fault-atc-timeout",
        busy(vec![Fault::AtcTimeout(1)], vec![]),
        "fault:atc-timeout",
    );
    add(
        "env-hang",
        busy(vec![], vec![EnvEvent::Hang(1)]),
        "env:hang",
    );
    add(
        "env-recover",
        busy(vec![], vec![EnvEvent::Hang(0), EnvEvent::Recover(0)]),
        "env:recover",
    );
    add(
        "cons-poll",
        sc(
            Config {
                msipoll: false,
                ..two.clone()
            },
            vec![
                vec![Op::Unmap { dev: 0, pages: 2 }],
                vec![Op::Unmap { dev: 1, pages: 1 }],
            ],
            vec![],
            vec![],
        ),
        "",
    );
    add(
        "cpus4-q256",
        sc(
            Config {
                qshift: 8,
                range_inv: false,
                ..base.clone()
            },
            vec![
                vec![
                    Op::Unmap { dev: 0, pages: 6 },
                    Op::SvaInvalidate { pages: 4 }
                ];
                4
            ],
            vec![],
            vec![],
        ),
        "cpu3",
    );
    add(
        "clients3",
        sc(
            Config {
                clients: vec![
                    base.clients[0],
                    ats,
                    Client {
                        early: true,
                        ..Client::default()
                    },
                ],
                atc_timeout_ms: 50,
                grace_ms: 100,
                ..base.clone()
            },
            vec![vec![
                Op::Unmap { dev: 2, pages: 1 },
                Op::Unmap { dev: 1, pages: 2 },
            ]],
            vec![Fault::AtcTimeout(1)],
            vec![],
        ),
        "fault:atc-timeout",
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smmuv3::encode;

    #[test]
    fn every_seed_is_raw_expressible_and_names_are_unique() {
        let s = specs();
        for (i, a) in s.iter().enumerate() {
            assert!(encode::encode_head(&a.sc).is_ok(), "{}", a.name);
            assert!(s[i + 1..].iter().all(|b| b.name != a.name));
        }
    }
}
