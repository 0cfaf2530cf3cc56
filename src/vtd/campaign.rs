//! What the campaign commands need from the VT-d model: how to make a reproducer smaller, which
//! steps decide a bug, its seeds and its raw encoder.

use super::label::Act;
use super::model::VtdModel;
use super::ops::{Config, EnvEvent, Fault, Inv, Op};
use super::scenario::Scenario;
use crate::cli::campaign::Campaign;
use crate::cli::corpus::Spec;
use crate::cli::minimize::Cand;

impl Campaign for VtdModel {
    const NAMED: bool = false;

    fn op_weight(o: &Op) -> usize {
        match o {
            Op::Flush(v) => 1 + v.len() + v.iter().filter(|x| **x != Inv::Iotlb).count(),
            _ => 1,
        }
    }

    fn config_things(_: &Config) -> usize {
        0
    }

    fn config_weight(c: &Config) -> usize {
        c.qlen as usize + c.ndevs as usize + usize::from(c.any_count)
    }

    fn renumber_cpu(a: Act, f: impl Fn(u8) -> Option<u8>) -> Option<Act> {
        match a {
            Act::Irq(c) => f(c).map(Act::Irq),
            x => Some(x),
        }
    }

    fn inject(f: Fault) -> Act {
        Act::Inject(f)
    }

    fn fire(e: EnvEvent) -> Act {
        Act::Env(e)
    }

    /// Each descriptor of a flush made a plain IOTLB flush (the simplest descriptor there is),
    /// or removed if it already is one.
    fn simpler_ops(o: &Op) -> Vec<Op> {
        let Op::Flush(invs) = o else {
            return Vec::new();
        };
        (0..invs.len())
            .map(|k| {
                let mut w = invs.clone();
                if w[k] == Inv::Iotlb {
                    w.remove(k);
                } else {
                    w[k] = Inv::Iotlb;
                }
                Op::Flush(w)
            })
            .collect()
    }

    /// A shorter ring, one device fewer, counts of one.
    fn smaller_configs(c: &Cand<Self>, v: &mut Vec<Cand<Self>>) {
        let cfg = c.sc.config;
        let mut with = |f: &dyn Fn(&mut Config)| {
            let mut t = c.clone();
            f(&mut t.sc.config);
            v.push(t);
        };
        if cfg.qlen > 8 {
            with(&|x| x.qlen = (cfg.qlen / 2).max(8));
        }
        if cfg.ndevs > 1 {
            with(&|x| x.ndevs -= 1);
        }
        if cfg.any_count {
            with(&|x| x.any_count = false);
        }
    }

    /// The scenario itself with the picked decisions: settings raw inputs cannot carry (such as
    /// `eager_fetch`) stay as the file has them.
    fn raw_replay(sc: &Scenario, _raw: &[u8], picks: &[u8]) -> Scenario {
        Scenario {
            decisions: picks.to_vec(),
            ..sc.clone()
        }
    }

    fn eager_fetch(c: &mut Config) -> bool {
        c.eager_fetch = true;
        true
    }
    fn encode_head(sc: &Scenario) -> Result<Vec<u8>, String> {
        super::encode::encode_head(sc)
    }

    /// A fault, an environment event, an ATS timeout or a fault interrupt.
    fn decisive(a: &Act) -> bool {
        matches!(
            a,
            Act::Inject(_) | Act::Env(_) | Act::Timeout(_) | Act::Irq(_)
        )
    }

    fn seeds() -> Vec<Spec<Self>> {
        super::seeds::specs()
    }

    const SEED_TRIES: usize = 4000;
    const SEED_DECISIONS: usize = 48;
    const DICT_HEADER: &'static str =
        "# Scenario heads of the seed corpus, written by `iommufuzz corpus --dict`.\n\
         # Each token decodes to the named seed's CPUs, operations, faults and events.\n";

    fn bench_inputs(n: usize) -> Vec<Scenario> {
        crate::bench_inputs(n)
    }
}
