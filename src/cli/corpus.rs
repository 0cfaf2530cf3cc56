//! `iommufuzz corpus --out DIR`: writes the seed corpus, the same bytes every time.
//!
//! One seed per operation, descriptor kind, fault kind and environment event, plus a few
//! configurations (four CPUs on a short ring, three devices, batches of 16). Each seed's
//! decisions are searched from a fixed RNG seed until the run takes the seed's action (the
//! fault is injected, the event fires) and ends without an unsuppressed violation: a seed that
//! crashes would stop libFuzzer before it starts fuzzing.

use super::{OracleArgs, Usage};
use crate::vtd::encode;
use crate::vtd::ops::{Config, EnvEvent, Fault, Inv, Op, Program};
use crate::vtd::scenario::{Runner, Scenario, Source};
use crate::vtd::variants::{Variant, VARIANTS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// Decision streams tried per seed before settling for one that only passes.
const TRIES: usize = 4000;

/// One seed: file name, scenario, and a decision label the run must take.
pub struct Spec {
    /// File name in the corpus.
    pub name: String,
    /// The scenario (decisions empty).
    pub sc: Scenario,
    /// A label prefix that must appear among the decisions (`""`: any run).
    pub needs: &'static str,
}

fn sc(cfg: Config, cpus: Vec<Vec<Op>>, faults: Vec<Fault>, env: Vec<EnvEvent>) -> Scenario {
    Scenario {
        config: cfg,
        cpus: cpus.into_iter().map(|ops| Program { ops }).collect(),
        faults,
        env,
        decisions: Vec::new(),
    }
}

/// The seeds, in a fixed order.
pub fn specs() -> Vec<Spec> {
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
    add("env-hang", two(vec![], vec![EnvEvent::Hang(0)]), "env:hang");
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

/// Searches decision bytes for `s` on `var`: the first stream (from a seed fixed per spec) that
/// takes the needed action without an unsuppressed violation, else the first that passes.
fn decisions(r: &mut Runner, s: &Spec, var: &'static Variant, salt: u64) -> Option<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5eed ^ salt);
    let mut fallback = None;
    for _ in 0..TRIES {
        let mut d = vec![0u8; 48];
        rng.fill_bytes(&mut d);
        let v = r.run(&s.sc, var, Source::Bytes(&d));
        if v.violation.is_some() {
            continue;
        }
        let hit = r
            .decisions()
            .0
            .iter()
            .take(d.len())
            .any(|l| l.starts_with(s.needs));
        if hit {
            return Some(d);
        }
        fallback.get_or_insert(d);
    }
    fallback
}

/// The corpus as (file name, bytes); with `any`, each seed is prefixed by a variant byte,
/// rotating through the variants.
pub fn build(r: &mut Runner, newest: &'static Variant, any: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, s) in specs().iter().enumerate() {
        let vars: Vec<&'static Variant> = if any {
            (0..VARIANTS.len())
                .map(|k| &VARIANTS[(i + k) % VARIANTS.len()])
                .collect()
        } else {
            vec![newest]
        };
        // For vtd_any: the first variant (in rotation) on which a passing stream exists.
        for var in vars {
            if let Some(d) = decisions(r, s, var, i as u64) {
                let mut bytes = encode::encode(&s.sc, &d).expect("seeds are raw-expressible");
                let name = if any {
                    bytes.insert(0, crate::fuzz::any_byte(var));
                    format!("{}-{}", s.name, var.name)
                } else {
                    s.name.clone()
                };
                out.push((name, bytes));
                break;
            }
        }
    }
    out
}

/// A libFuzzer/AFL dictionary: the head (configuration, programs, faults, events) of every seed,
/// so a mutation can splice a whole meaningful scenario in front of any decision stream.
pub fn dict() -> String {
    let mut s = String::from(
        "# Scenario heads of the seed corpus, written by `iommufuzz corpus --dict`.\n\
         # Each token decodes to the named seed's CPUs, operations, faults and events.\n",
    );
    for sp in specs() {
        let head = encode::encode_head(&sp.sc).expect("seeds are raw-expressible");
        let hex: String = head.iter().map(|b| format!("\\x{b:02x}")).collect();
        s.push_str(&format!("{}=\"{hex}\"\n", sp.name.replace('-', "_")));
    }
    s
}

/// `iommufuzz corpus --out DIR`.
pub fn corpus(
    out: &Path,
    any: bool,
    variant: Option<&str>,
    dict_out: Option<&Path>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    let var = super::input::variant(variant, None)?;
    let mut r = super::runner(o)?;
    if out.exists() && !out.is_dir() {
        return Err(Usage(format!("{}: not a directory", out.display())));
    }
    let seeds = build(&mut r, var, any);
    std::fs::create_dir_all(out).map_err(|e| Usage(format!("{}: {e}", out.display())))?;
    for (name, bytes) in &seeds {
        let p = out.join(name);
        std::fs::write(&p, bytes).map_err(|e| Usage(format!("{}: {e}", p.display())))?;
    }
    if let Some(d) = dict_out {
        std::fs::write(d, dict()).map_err(|e| Usage(format!("{}: {e}", d.display())))?;
    }
    println!(
        "wrote {} seeds to {} ({})",
        seeds.len(),
        out.display(),
        if any {
            "vtd_any: first byte selects the variant".to_string()
        } else {
            format!("vtd on {}", var.name)
        }
    );
    Ok(0)
}
