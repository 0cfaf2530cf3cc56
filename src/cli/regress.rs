//! `iommufuzz regress DIR`: every `<bug>/scenario.json` against its `<bug>/expect.json`.

use super::campaign::{tag, Campaign};
use super::input::{json_model, load, Loaded};
use super::Usage;
use crate::sim::model;
use crate::sim::model::Model as _;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// An expectation file: where the scenario must fail (with which class) and where it must pass.
#[derive(Debug, Deserialize)]
pub struct Expect {
    /// One line on the bug.
    pub bug: String,
    /// Variant → expected violation class.
    #[serde(default)]
    pub fail: BTreeMap<String, String>,
    /// Variants where the scenario must pass.
    #[serde(default)]
    pub pass: Vec<String>,
}

/// Result of checking one reproducer on one variant.
pub struct Outcome {
    /// Bug directory name.
    pub bug: String,
    /// Variant.
    pub variant: String,
    /// What was expected.
    pub want: String,
    /// What happened.
    pub got: String,
}

impl Outcome {
    /// True when behaviour matched.
    pub fn ok(&self) -> bool {
        self.want == self.got
    }
}

/// Checks one reproducer directory.
pub fn check_dir(d: &Path) -> Result<Vec<Outcome>, String> {
    let name = d
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let et = std::fs::read_to_string(d.join("expect.json"))
        .map_err(|e| format!("{name}/expect.json: {e}"))?;
    let e: Expect = serde_json::from_str(&et).map_err(|e| format!("{name}/expect.json: {e}"))?;
    let sc = d.join("scenario.json");
    let bytes = std::fs::read(&sc).map_err(|e| format!("{name}/scenario.json: {e}"))?;
    if json_model(&bytes).as_deref() == Some(Smmuv3Model::NAME) {
        // SMMUv3 scenarios have always been read per case: one with no case is not read, and
        // a read error names the bug.
        if cases(&e).next().is_none() {
            return Ok(Vec::new());
        }
        let l = load::<Smmuv3Model>(&sc).map_err(|x| format!("{name}: {x}"))?;
        return outcomes(&name, &e, &l);
    }
    outcomes(&name, &e, &load::<VtdModel>(&sc)?)
}

/// The (variant, expected class or "pass") pairs of an expectation.
fn cases(e: &Expect) -> impl Iterator<Item = (String, String)> + '_ {
    e.fail
        .iter()
        .map(|(v, c)| (v.clone(), c.clone()))
        .chain(e.pass.iter().map(|v| (v.clone(), "pass".into())))
}

/// Runs the reproducer `l` of bug `name` on each variant of its expectation.
fn outcomes<M: Campaign>(name: &str, e: &Expect, l: &Loaded<M>) -> Result<Vec<Outcome>, String> {
    let mut out = Vec::new();
    for (vname, want) in cases(e) {
        let var = model::by_name::<M>(&vname)
            .ok_or_else(|| format!("{name}: unknown {}variant {vname}", tag::<M>(" ")))?;
        let v = Runner::<M>::default().run(&l.scenario, var, l.source());
        let got = v
            .violation
            .map(|x| x.class.name().to_string())
            .unwrap_or_else(|| "pass".into());
        out.push(Outcome {
            bug: name.to_string(),
            variant: vname,
            want,
            got,
        });
    }
    Ok(out)
}

/// `iommufuzz regress DIR`.
pub fn regress(dir: &Path) -> Result<i32, Usage> {
    let rd = std::fs::read_dir(dir).map_err(|e| Usage(format!("{}: {e}", dir.display())))?;
    let mut dirs: Vec<_> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("expect.json").exists())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(Usage(format!(
            "{}: no <bug>/expect.json found",
            dir.display()
        )));
    }
    let (mut good, mut bad) = (0, 0);
    for d in &dirs {
        for o in check_dir(d)? {
            let mark = if o.ok() { "ok  " } else { "FAIL" };
            crate::outln!(
                "{mark} {:<36} {:<14} want {:<22} got {}",
                o.bug,
                o.variant,
                o.want,
                o.got
            );
            if o.ok() {
                good += 1;
            } else {
                bad += 1;
            }
        }
    }
    crate::outln!("regress: {good} passed, {bad} failed");
    Ok(if bad == 0 { 0 } else { 1 })
}
