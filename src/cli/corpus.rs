//! `iommufuzz corpus --out DIR`: writes the seed corpus, the same bytes every time.
//!
//! Each model lists its seeds (see [`Campaign::seeds`]): one per operation, fault and
//! environment event, plus a few configurations. Each seed's decisions are searched from a
//! fixed RNG seed until the run takes the seed's action (the fault is injected, the event
//! fires) and ends without an unsuppressed violation: a seed that crashes would stop libFuzzer
//! before it starts fuzzing.

use super::campaign::{self, say, Campaign};
use super::input;
use super::{OracleArgs, Usage};
use crate::sim::model::Model as _;
use crate::sim::model::{ScenarioOf, Variant as _};
use crate::sim::outcome::Source;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// One seed: file name, scenario, and a decision label the run must take.
pub struct Spec<M: Campaign> {
    /// File name in the corpus.
    pub name: String,
    /// The scenario (decisions empty).
    pub sc: ScenarioOf<M>,
    /// A label prefix that must appear among the decisions (`""`: any run).
    pub needs: &'static str,
}

/// Searches decision bytes for `s` on `var`: the first stream (from a seed fixed per spec) that
/// takes the needed action without an unsuppressed violation, else the first that passes.
fn decisions<M: Campaign>(
    r: &mut Runner<M>,
    s: &Spec<M>,
    var: &'static M::Variant,
    salt: u64,
) -> Option<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5eed ^ salt);
    let mut fallback = None;
    for _ in 0..M::SEED_TRIES {
        let mut d = vec![0u8; M::SEED_DECISIONS];
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
/// rotating through the variants (the `vtd_any` target's input).
pub fn build<M: Campaign>(
    r: &mut Runner<M>,
    newest: &'static M::Variant,
    any: bool,
) -> Vec<(String, Vec<u8>)> {
    let all = M::variants();
    let mut out = Vec::new();
    for (i, s) in M::seeds().iter().enumerate() {
        // With `any`: the first variant (in rotation) on which a passing stream exists; its
        // index in the variant list is the byte that selects it.
        let vars: Vec<(usize, &'static M::Variant)> = if any {
            (0..all.len())
                .map(|k| (i + k) % all.len())
                .map(|x| (x, &all[x]))
                .collect()
        } else {
            vec![(0, newest)]
        };
        for (index, var) in vars {
            if let Some(d) = decisions(r, s, var, i as u64) {
                let mut bytes =
                    campaign::encode::<M>(&s.sc, &d).expect("seeds are raw-expressible");
                let name = if any {
                    bytes.insert(0, index as u8);
                    format!("{}-{}", s.name, var.name())
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
pub fn dict<M: Campaign>() -> String {
    let mut s = String::from(M::DICT_HEADER);
    for sp in M::seeds() {
        let head = M::encode_head(&sp.sc).expect("seeds are raw-expressible");
        let hex: String = head.iter().map(|b| format!("\\x{b:02x}")).collect();
        s.push_str(&format!("{}=\"{hex}\"\n", sp.name.replace('-', "_")));
    }
    s
}

/// `iommufuzz corpus --out DIR [--model M]`.
pub fn corpus(
    out: &Path,
    any: bool,
    model: &str,
    variant: Option<&str>,
    dict_out: Option<&Path>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    if model == Smmuv3Model::NAME {
        if any {
            return Err(Usage(
                "--any is for vtd_any seeds; the smmuv3 target has no variant byte".into(),
            ));
        }
        let var = input::variant::<Smmuv3Model>(variant, None)?;
        let r = super::runner_for::<Smmuv3Model>(o)?;
        // This command refuses a directory as the dictionary before writing anything (after
        // the output check `write` makes first); the VT-d one finds out when writing it.
        let out_ok = !out.exists() || out.is_dir();
        if let Some(d) = dict_out.filter(|d| out_ok && d.is_dir()) {
            return Err(Usage(format!(
                "{}: is a directory, expected a file",
                d.display()
            )));
        }
        return write::<Smmuv3Model>(out, r, var, false, dict_out);
    }
    let var = input::variant::<VtdModel>(variant, None)?;
    write::<VtdModel>(out, super::runner(o)?, var, any, dict_out)
}

/// Builds the corpus of `M` and writes it (and the dictionary) out.
fn write<M: Campaign>(
    out: &Path,
    mut r: Runner<M>,
    var: &'static M::Variant,
    any: bool,
    dict_out: Option<&Path>,
) -> Result<i32, Usage> {
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
        std::fs::write(d, dict::<M>()).map_err(|e| Usage(format!("{}: {e}", d.display())))?;
    }
    let what = if any {
        "vtd_any: first byte selects the variant".to_string()
    } else {
        format!("{} on {}", M::NAME, var.name())
    };
    say::<M>(&format!(
        "wrote {} seeds to {} ({what})\n",
        seeds.len(),
        out.display()
    ));
    let others = others(out, &seeds);
    if !others.is_empty() {
        // Never removed: they may be inputs a fuzzer added. Named, so that a seed an older
        // build wrote and this one no longer does is easy to spot and delete by hand.
        let shown: Vec<&str> = others.iter().take(5).map(String::as_str).collect();
        say::<M>(&format!(
            "kept {} other file(s) in {} that are not among these seeds (an older seed set's, or a fuzzer's): {}{}\n",
            others.len(),
            out.display(),
            shown.join(" "),
            if others.len() > shown.len() { " ..." } else { "" }
        ));
    }
    Ok(0)
}

/// Files in `dir` that are not among `seeds`, sorted by name.
fn others(dir: &Path, seeds: &[(String, Vec<u8>)]) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !seeds.iter().any(|(s, _)| s == n))
        .collect();
    v.sort();
    v
}
