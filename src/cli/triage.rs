//! `iommufuzz triage DIR`: groups crash files by bug and prints one line per distinct bug with
//! its count and smallest reproducer.
//!
//! A bug is identified by its signature: the variant, the violation class, the kernel function,
//! the cause, and the decisive step — the last injected event (fault, environment event, ATS
//! timeout, fault interrupt) before the violation, with its numbers blanked, because two
//! crash files of one bug differ in slot numbers and interleaving but not in what set it off.
//!
//! SMMUv3 files (JSON with `"model": "smmuv3"`, or raw with `--model smmuv3`) are triaged in the
//! same pass; their lines start with `smmuv3` and their decisive step is the last fault,
//! environment event, ATC timer, GERROR interrupt or reboot request.

use super::campaign::{tag, Campaign};
use super::input::{self, Loaded};
use super::{OracleArgs, Usage};
use crate::sim::choice::Step;
use crate::sim::model::{Act, Model as _, Variant as _};
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most files one triage reads, so a mistaken `triage /` ends.
const MAX_FILES: usize = 100_000;

/// The decisive step of a decision log: the last injected event, numbers blanked.
pub fn decisive<M: Campaign>(log: &[Step<Act<M>>]) -> String {
    log.iter()
        .rev()
        .find(|s| matches!(s, Step::Model(a) if M::decisive(a)))
        .map(|s| {
            M::step_label(s)
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        })
        .unwrap_or_else(|| "schedule".into())
}

/// The triage signature of the last run of `r`, which found `violation`.
pub fn signature<M: Campaign>(
    r: &Runner<M>,
    var: &M::Variant,
    violation: &crate::Violation,
) -> String {
    let (labels, _) = r.decisions();
    let log: Vec<Step<Act<M>>> = labels.iter().filter_map(|l| M::parse_step(l)).collect();
    format!(
        "{}{} {} @{}",
        tag::<M>(" "),
        var.name(),
        violation.signature(),
        decisive::<M>(&log)
    )
}

/// Runs one reproducer: its triage signature if it violates, `None` if it passes.
fn run_one<M: Campaign>(
    r: &mut Runner<M>,
    l: &Loaded<M>,
    var: &'static M::Variant,
) -> Option<String> {
    let v = r.run(&l.scenario, var, l.source());
    v.violation.as_ref().map(|x| signature(r, var, x))
}

/// Files under `dir` that may be reproducers, sorted; notes, expectation files and hidden files
/// are left out.
fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "expect.json" {
                continue;
            }
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if matches!(ext, "md" | "txt" | "supp" | "dict" | "options" | "log") {
                continue;
            }
            if p.is_dir() {
                todo.push(p);
            } else if p.is_file() {
                out.push(p);
            }
            if out.len() > MAX_FILES {
                return Err(format!("{}: more than {MAX_FILES} files", dir.display()));
            }
        }
    }
    out.sort();
    Ok(out)
}

struct Bug {
    count: usize,
    smallest: (u64, PathBuf),
}

/// Which model a file of the triaged directory is for: its JSON `model` field, else `raw`.
fn file_model(p: &Path, raw: &'static str) -> &'static str {
    let bytes = std::fs::read(p).unwrap_or_default();
    match input::json_model(&bytes).as_deref() {
        Some(Smmuv3Model::NAME) => Smmuv3Model::NAME,
        Some(_) => "vtd",
        None => raw,
    }
}

/// Runs one SMMUv3 file: `Ok(Some(signature))`, `Ok(None)` for a pass, `Err` to skip it.
fn smmu_file(
    r: &mut Runner<Smmuv3Model>,
    p: &Path,
    vflag: Option<&str>,
) -> Result<Option<String>, String> {
    let l = input::load::<Smmuv3Model>(p)?;
    let var = input::variant::<Smmuv3Model>(vflag, l.variant.as_deref())?;
    Ok(run_one(r, &l, var))
}

/// `iommufuzz triage DIR`: VT-d and SMMUv3 files alike. JSON files name their model; raw
/// files are of `model` (default vtd). `variant` applies to the files of that model.
pub fn triage(
    dir: &Path,
    variant: Option<&str>,
    any: bool,
    model: Option<&str>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    let raw_model = super::model_flag(model)?;
    if !dir.is_dir() {
        return Err(Usage(format!("{}: not a directory", dir.display())));
    }
    if any && raw_model == Smmuv3Model::NAME {
        return Err(Usage(super::NO_SMMU_ANY.into()));
    }
    let mut r = super::runner_for::<VtdModel>(o)?;
    let mut sr = super::runner_for::<Smmuv3Model>(o)?;
    if let Some(v) = variant {
        if raw_model == Smmuv3Model::NAME {
            input::variant::<Smmuv3Model>(Some(v), None)?;
        } else {
            input::variant::<VtdModel>(Some(v), None)?;
        }
    }
    let (vtd_flag, smmu_flag) = if raw_model == Smmuv3Model::NAME {
        (None, variant)
    } else {
        (variant, None)
    };
    let (mut bugs, mut passing) = (BTreeMap::<String, Bug>::new(), 0usize);
    let mut skipped: Vec<String> = Vec::new();
    for p in files(dir)? {
        let sig = if file_model(&p, raw_model) == Smmuv3Model::NAME {
            match smmu_file(&mut sr, &p, smmu_flag) {
                Ok(s) => s,
                Err(e) => {
                    skipped.push(e);
                    continue;
                }
            }
        } else {
            let l = match input::load_as::<VtdModel>(&p, any) {
                Ok(l) => l,
                Err(e) => {
                    skipped.push(e);
                    continue;
                }
            };
            let var = input::variant::<VtdModel>(vtd_flag, l.variant.as_deref())?;
            run_one(&mut r, &l, var)
        };
        let Some(sig) = sig else {
            passing += 1;
            continue;
        };
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(u64::MAX);
        let b = bugs.entry(sig).or_insert(Bug {
            count: 0,
            smallest: (size, p.clone()),
        });
        b.count += 1;
        if (size, &p) < (b.smallest.0, &b.smallest.1) {
            b.smallest = (size, p.clone());
        }
    }
    if bugs.is_empty() && passing == 0 {
        let why = skipped
            .first()
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        return Err(Usage(format!(
            "{}: no readable reproducer ({} skipped){why}",
            dir.display(),
            skipped.len()
        )));
    }
    for e in &skipped {
        eprintln!("skipped {e}");
    }
    let mut rows: Vec<_> = bugs.into_iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    let total: usize = rows.iter().map(|r| r.1.count).sum();
    crate::outln!(
        "triage {}: {} distinct bugs in {total} crashing files ({passing} pass, {} skipped)",
        dir.display(),
        rows.len(),
        skipped.len()
    );
    for (sig, b) in &rows {
        crate::outln!(
            "{:>6}  {sig}  smallest: {} ({} bytes)",
            b.count,
            b.smallest.1.display(),
            b.smallest.0
        );
    }
    Ok(if rows.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtd::label::Act;
    use crate::vtd::model::VtdModel;
    use crate::vtd::ops::Fault;

    #[test]
    fn decisive_step_is_the_last_injection_with_numbers_blanked() {
        let log = vec![
            Step::Cpu(1),
            Step::Model(Act::Inject(Fault::Ite(1))),
            Step::Model(Act::Exec(5)),
            Step::Cpu(0),
        ];
        assert_eq!(decisive::<VtdModel>(&log), "fault:ite dev#");
        assert_eq!(decisive::<VtdModel>(&log[..1]), "schedule");
    }

    #[test]
    fn smmuv3_decisive_step_includes_the_reboot_request() {
        use crate::smmuv3::model::Smmuv3Model;
        use crate::smmuv3::ops::Fault;
        use crate::smmuv3::world::Act;
        let log = vec![
            Step::Cpu(1),
            Step::Model(Act::Inject(Fault::AtcTimeout(1))),
            Step::Model(Act::Consume),
            Step::Cpu(0),
        ];
        assert_eq!(decisive::<Smmuv3Model>(&log), "fault:atc-timeout dev#");
        assert_eq!(decisive::<Smmuv3Model>(&log[..1]), "schedule");
        let log = [Step::Model(Act::Reboot), Step::Model(Act::Answer(0))];
        assert_eq!(decisive::<Smmuv3Model>(&log), "env:reboot");
    }
}
