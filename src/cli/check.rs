//! `iommufuzz check`: every schedule of one scenario within a bound, run one by one.
//!
//! Where `explore` samples, `check` enumerates (see `sim::dfs`): all decision lists with at most
//! `--deviations` departures from the default schedule among the first `--depth` decisions,
//! faults and device events included. "No violation" is then a statement about all of them: a
//! patch's variant passes a scenario within that bound, while the variant it fixes fails it.

use super::campaign::Campaign;
use super::{input, Usage};
use crate::sim::dfs::Dfs;
use crate::sim::model::{Model, ScenarioOf, Variant};
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `check`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Scenario (JSON or raw); its own decisions are not used, every schedule is run.
    pub file: PathBuf,
    /// Variant (default: the file's, else the newest upstream).
    #[arg(long)]
    pub variant: Option<String>,
    /// Decisions enumerated per run; the run heals after them.
    #[arg(long, default_value_t = 40)]
    pub depth: usize,
    /// Most departures from the default schedule (delay bound).
    #[arg(long, default_value_t = 2)]
    pub deviations: u32,
    /// Stop after this many schedules even if the bound is not exhausted.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_runs: u64,
    /// Stop at the first violation.
    #[arg(long)]
    pub stop: bool,
    /// Count deviations from the file's own schedule (a reproducer's) instead of from the
    /// default one: checks a fix on the crash and every schedule near it.
    #[arg(long)]
    pub around: bool,
    /// Write the first schedule of each violation signature here as a JSON scenario file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The raw file is a `vtd_any` input (first byte selects the variant).
    #[arg(long, conflicts_with = "variant")]
    pub any: bool,
    /// Model of a raw file: vtd (default) or smmuv3; JSON files name their own.
    #[arg(long)]
    pub model: Option<String>,
    /// Oracle options.
    #[command(flatten)]
    pub oracle: super::OracleArgs,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Schedules run.
    pub runs: u64,
    /// True when every schedule within the bound was run.
    pub exhaustive: bool,
    /// Per signature: how many schedules violated it, and the first one's number (from 1).
    pub seen: BTreeMap<String, (u64, u64)>,
}

/// Runs every schedule of `sc` on `var` within the bound of `a`; the first schedule of each
/// new signature is written under `a.out`.
pub fn search<M: Model>(
    r: &mut Runner<M>,
    sc: &ScenarioOf<M>,
    var: &'static M::Variant,
    a: &Args,
    base: Option<&(Vec<u16>, usize)>,
) -> Result<Outcome, Usage> {
    let mut dfs = Dfs::new(a.depth, a.deviations);
    if let Some((picks, heal_at)) = base {
        dfs = dfs.around(picks, *heal_at);
    }
    let mut o = Outcome::default();
    loop {
        let v = r.run_with(sc, var, &mut dfs);
        o.runs += 1;
        if let Some(x) = v.violation {
            let sig = x.signature();
            let first = !o.seen.contains_key(&sig);
            o.seen.entry(sig.clone()).or_insert((0, o.runs)).0 += 1;
            if first {
                if let Some(dir) = &a.out {
                    save(dir, &sig, &r.to_file(sc, var))?;
                }
                if a.stop {
                    return Ok(o);
                }
            }
        }
        if !dfs.advance() {
            o.exhaustive = true;
            return Ok(o);
        }
        if o.runs >= a.max_runs {
            return Ok(o);
        }
    }
}

fn save(dir: &Path, sig: &str, file: &impl serde::Serialize) -> Result<(), Usage> {
    let path = super::explore::write_json(dir, &super::explore::file_stem(sig), file)?;
    crate::outln!("  wrote {}", path.display());
    Ok(())
}

/// Prints the outcome; returns the exit code (1 when some schedule violated a property).
pub fn print(a: &Args, var: &dyn Variant, o: &Outcome, secs: f64) -> i32 {
    let from = if a.around {
        " from the file's schedule"
    } else {
        ""
    };
    let bound = format!(
        "depth {}, at most {} deviations{from}",
        a.depth, a.deviations
    );
    let scope = if o.exhaustive {
        format!("all schedules within {bound}")
    } else {
        format!("NOT exhaustive: stopped before every schedule within {bound} ran")
    };
    crate::outln!(
        "check {} on {}: {} schedules in {secs:.2} s ({scope})",
        var.name(),
        a.file.display(),
        o.runs
    );
    if o.seen.is_empty() {
        crate::outln!("  no violation");
        return 0;
    }
    crate::outln!("  {} distinct violations:", o.seen.len());
    for (sig, (n, first)) in &o.seen {
        crate::outln!("  {n:>8}  {sig}  (first at schedule {first})");
    }
    1
}

/// Checks the bound's arguments.
pub fn validate(a: &Args) -> Result<(), Usage> {
    if a.depth == 0 || a.depth > 4096 {
        return Err(Usage("--depth must be 1..=4096".into()));
    }
    if a.max_runs == 0 {
        return Err(Usage("--max-runs must be at least 1".into()));
    }
    Ok(())
}

/// Runs the search and prints it.
pub fn run<M: Model>(
    r: &mut Runner<M>,
    sc: &ScenarioOf<M>,
    var: &'static M::Variant,
    a: &Args,
    base: Option<&(Vec<u16>, usize)>,
) -> Result<i32, Usage> {
    validate(a)?;
    let t = Instant::now();
    let o = search(r, sc, var, a, base)?;
    Ok(print(a, var, &o, t.elapsed().as_secs_f64()))
}

/// `iommufuzz check` on a reproducer of model `M`.
fn check_as<M: Campaign>(a: &Args) -> Result<i32, Usage> {
    let l = input::load_as::<M>(&a.file, a.any).map_err(Usage)?;
    let var = input::variant::<M>(a.variant.as_deref(), l.variant.as_deref()).map_err(Usage)?;
    let mut r = super::runner_for::<M>(&a.oracle)?;
    // The file's schedule as picks: what its decisions chose among the steps enabled then.
    let base = if a.around {
        r.run(&l.scenario, var, l.source());
        Some((r.picks().to_vec(), r.log().1))
    } else {
        None
    };
    run(&mut r, &l.scenario, var, a, base.as_ref())
}

/// `iommufuzz check`.
pub fn check(a: &Args) -> Result<i32, Usage> {
    validate(a)?;
    if input::model_of(&a.file, a.model.as_deref())? == Smmuv3Model::NAME {
        if a.any {
            return Err(Usage(super::NO_SMMU_ANY.into()));
        }
        check_as::<Smmuv3Model>(a)
    } else {
        check_as::<VtdModel>(a)
    }
}
