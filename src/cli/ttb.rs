//! `iommufuzz ttb`: time-to-bug benchmark. For every known bug in the crashes directory and
//! every engine available, T trials from an empty corpus, each stopped at the first violation
//! with the bug's signature or when the time budget runs out; prints median, min, max and the
//! hit rate.
//!
//! A bug is a `crashes/<bug>/scenario.json`, of either model (its `model` field); the SMMUv3
//! ones run through the `smmuv3` targets, found beside the given VT-d binaries. The variants it fails on and the expected class
//! come from `expect.json` when present, else from the scenario's own variant; the signature to
//! wait for is what replaying the scenario gives (or `class:*:*` if replay disagrees with the
//! expectation). Other violations do not stop a trial: the external engines get the signature
//! through `IOMMUFUZZ_ONLY`, so they crash only on the bug being timed.

use super::campaign::Campaign;
use super::input::{json_model, load};
use super::Usage;
use crate::oracle::Suppressions;
use crate::sim::model::Model as _;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::smmuv3::scenario as smmu;
use crate::smmuv3::variants as smmu_variants;
use crate::vtd::model::VtdModel;
use crate::vtd::scenario::{decode, Source};
use crate::vtd::variants::{self, Variant};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `ttb`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Directory of known bugs (`<bug>/scenario.json`, optional `<bug>/expect.json`).
    #[arg(long, default_value = "crashes")]
    pub crashes: PathBuf,
    /// Trials per bug and engine (trial k uses seed k).
    #[arg(long, default_value_t = 3)]
    pub trials: u32,
    /// Time budget per trial in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub budget: f64,
    /// Engines, comma-separated: builtin, libfuzzer, afl (unavailable ones are skipped).
    #[arg(long, default_value = "builtin,libfuzzer,afl")]
    pub engines: String,
    /// The libFuzzer `vtd` binary (SMMUv3 bugs use the `smmuv3` binary beside it).
    #[arg(
        long,
        default_value = "fuzz/target/x86_64-unknown-linux-gnu/release/vtd"
    )]
    pub libfuzzer_bin: PathBuf,
    /// The AFL `vtd` binary, run through `cargo afl fuzz` (SMMUv3 bugs: `smmuv3-afl` beside it).
    #[arg(long, default_value = "fuzz/afl/target/release/vtd-afl")]
    pub afl_bin: PathBuf,
    /// Only bugs whose directory name contains this.
    #[arg(long)]
    pub only: Option<String>,
}

/// A variant of either model.
#[derive(Debug, Clone, Copy)]
pub enum Var {
    /// A VT-d variant.
    Vtd(&'static Variant),
    /// An SMMUv3 variant.
    Smmuv3(&'static smmu_variants::Variant),
}

impl Var {
    /// Variant name.
    pub fn name(&self) -> &'static str {
        match self {
            Var::Vtd(v) => v.name,
            Var::Smmuv3(v) => v.name,
        }
    }

    /// Model name.
    pub fn model(&self) -> &'static str {
        match self {
            Var::Vtd(_) => "vtd",
            Var::Smmuv3(_) => Smmuv3Model::NAME,
        }
    }

    /// The engine binary of this model: `vtd_bin` itself, or the sibling file whose name has
    /// `vtd` replaced by `smmuv3` (`.../release/smmuv3`, `.../release/smmuv3-afl`).
    pub fn bin(&self, vtd_bin: &Path) -> PathBuf {
        match self {
            Var::Vtd(_) => vtd_bin.to_path_buf(),
            Var::Smmuv3(_) => {
                let name = vtd_bin
                    .file_name()
                    .map(|n| n.to_string_lossy().replacen("vtd", "smmuv3", 1))
                    .unwrap_or_else(|| "smmuv3".into());
                vtd_bin.with_file_name(name)
            }
        }
    }
}

/// One row to measure: a signature on a variant, and the bug directories that have it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Bug directory names.
    pub bugs: Vec<String>,
    /// Variant (and so model).
    pub variant: Var,
    /// Signature pattern (`class:function:cause`, `*` allowed).
    pub sig: String,
}

/// A bug's scenario run on one variant: the violation, if any.
fn replay_bug(scenario: &Path, var: Var) -> Result<Option<crate::Violation>, String> {
    match var {
        Var::Vtd(v) => violation::<VtdModel>(scenario, v),
        Var::Smmuv3(v) => violation::<Smmuv3Model>(scenario, v),
    }
}

/// The violation the scenario file of model `M` finds on `v`, if any.
fn violation<M: Campaign>(
    scenario: &Path,
    v: &'static M::Variant,
) -> Result<Option<crate::Violation>, String> {
    let l = load::<M>(scenario)?;
    Ok(Runner::<M>::default()
        .run(&l.scenario, v, l.source())
        .violation)
}

#[derive(serde::Deserialize)]
struct Expect {
    #[serde(default)]
    fail: BTreeMap<String, String>,
}

/// The known bugs of `dir`, one target per distinct (variant, signature).
pub fn targets(dir: &Path) -> Result<Vec<Target>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("scenario.json").is_file())
        .collect();
    dirs.sort();
    let mut out: Vec<Target> = Vec::new();
    for d in dirs {
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let scenario = d.join("scenario.json");
        let bytes = std::fs::read(&scenario).map_err(|e| format!("{}: {e}", scenario.display()))?;
        let is_smmu = json_model(&bytes).as_deref() == Some(Smmuv3Model::NAME);
        let file_variant = if is_smmu {
            load::<Smmuv3Model>(&scenario)?.variant
        } else {
            load::<VtdModel>(&scenario)?.variant
        };
        let fails: Vec<(String, Option<String>)> =
            match std::fs::read_to_string(d.join("expect.json")) {
                Ok(t) => {
                    let e: Expect =
                        serde_json::from_str(&t).map_err(|e| format!("{name}/expect.json: {e}"))?;
                    e.fail.into_iter().map(|(v, c)| (v, Some(c))).collect()
                }
                Err(_) => vec![(file_variant.clone().unwrap_or_default(), None)],
            };
        for (vname, class) in fails {
            let var = if is_smmu {
                smmu_variants::by_name(&vname).map(Var::Smmuv3)
            } else {
                variants::by_name(&vname).map(Var::Vtd)
            }
            .ok_or_else(|| format!("{name}: unknown variant {vname:?}"))?;
            let got = replay_bug(&scenario, var)?;
            let sig = match (got, class) {
                (Some(x), Some(c)) if x.class.name() != c => format!("{c}:*:*"),
                (Some(x), _) => x.signature(),
                (None, Some(c)) => format!("{c}:*:*"),
                (None, None) => continue,
            };
            match out.iter_mut().find(|t| {
                t.variant.model() == var.model() && t.variant.name() == var.name() && t.sig == sig
            }) {
                Some(t) => t.bugs.push(name.clone()),
                None => out.push(Target {
                    bugs: vec![name.clone()],
                    variant: var,
                    sig,
                }),
            }
        }
    }
    Ok(out)
}

/// Built-in engine: the `explore` loop on one thread until the signature shows up.
fn builtin(t: &Target, seed: u64, budget: Duration) -> Option<Duration> {
    let only = Suppressions::parse(&t.sig).ok()?;
    let mut r = crate::Runner::default();
    let mut sr = smmu::Runner::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = [0u8; 256];
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        if n % 256 == 0 && start.elapsed() >= budget {
            return None;
        }
        n += 1;
        let len = rng.random_range(1..=buf.len());
        rng.fill_bytes(&mut buf[..len]);
        let x = match t.variant {
            Var::Vtd(v) => {
                let sc = decode(&buf[..len]);
                r.run(&sc, v, Source::Bytes(&sc.decisions)).violation
            }
            Var::Smmuv3(v) => smmu::run_raw(&mut sr, v, &buf[..len]).violation,
        };
        if x.is_some_and(|x| only.matches(&x)) {
            return Some(start.elapsed());
        }
    }
}

fn scratch(tag: &str) -> Result<PathBuf, String> {
    let d = std::env::temp_dir().join(format!("iommufuzz-ttb-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("corpus")).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

fn nonempty(dir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
    })
}

/// libFuzzer engine: the `vtd` binary from an empty corpus.
fn libfuzzer(
    bin: &Path,
    t: &Target,
    seed: u64,
    budget: Duration,
) -> Result<Option<Duration>, String> {
    let d = scratch("lf")?;
    let start = Instant::now();
    let st = Command::new(bin)
        .arg(format!("-seed={seed}"))
        .arg(format!("-max_total_time={}", budget.as_secs().max(1)))
        .arg(format!("-artifact_prefix={}/", d.display()))
        .arg(d.join("corpus"))
        .env(crate::fuzz::ENV_VARIANT, t.variant.name())
        .env(crate::fuzz::ENV_ONLY, &t.sig)
        .env_remove(crate::fuzz::ENV_SUPPRESSIONS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let el = start.elapsed();
    let hit = !st.success() && nonempty(&d, "crash-");
    let _ = std::fs::remove_dir_all(&d);
    Ok(hit.then_some(el))
}

/// AFL engine: `cargo afl fuzz` on the AFL binary, stopping at the first crash.
fn afl(bin: &Path, t: &Target, seed: u64, budget: Duration) -> Result<Option<Duration>, String> {
    let d = scratch("afl")?;
    // AFL refuses an empty input directory; one zero byte is the emptiest corpus it accepts.
    std::fs::write(d.join("corpus/empty"), [0u8]).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let _ = Command::new("cargo")
        .args(["afl", "fuzz", "-s"])
        .arg(seed.to_string())
        .arg("-V")
        .arg(budget.as_secs().max(1).to_string())
        .arg("-i")
        .arg(d.join("corpus"))
        .arg("-o")
        .arg(d.join("out"))
        .arg("--")
        .arg(bin)
        .env("AFL_NO_UI", "1")
        .env("AFL_BENCH_UNTIL_CRASH", "1")
        .env("AFL_SKIP_CPUFREQ", "1")
        .env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1")
        .env(crate::fuzz::ENV_VARIANT, t.variant.name())
        .env(crate::fuzz::ENV_ONLY, &t.sig)
        .env_remove(crate::fuzz::ENV_SUPPRESSIONS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cargo afl: {e}"))?;
    let el = start.elapsed();
    let hit = nonempty(&d.join("out/default/crashes"), "id:");
    let _ = std::fs::remove_dir_all(&d);
    Ok(hit.then_some(el))
}

fn afl_available(bin: &Path) -> bool {
    bin.is_file()
        && Command::new("cargo")
            .args(["afl", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// One table cell: hits out of trials and the times of the hits.
pub fn summary(times: &[Option<Duration>], budget: f64) -> String {
    let mut hits: Vec<f64> = times.iter().flatten().map(|d| d.as_secs_f64()).collect();
    hits.sort_by(f64::total_cmp);
    let n = times.len();
    // Misses count as "later than the budget" for the median.
    let mut all: Vec<f64> = times
        .iter()
        .map(|t| t.map_or(f64::INFINITY, |d| d.as_secs_f64()))
        .collect();
    all.sort_by(f64::total_cmp);
    let med = all.get(n / 2).copied().unwrap_or(f64::INFINITY);
    let f = |x: f64| {
        if x.is_finite() {
            format!("{x:.3}")
        } else {
            format!(">{budget:.0}")
        }
    };
    let (mn, mx) = (hits.first().copied(), hits.last().copied());
    format!(
        "{:>7} {:>7} {:>7}  {}/{}",
        f(med),
        mn.map_or("-".into(), f),
        mx.map_or("-".into(), f),
        hits.len(),
        n
    )
}

/// `iommufuzz ttb`.
pub fn ttb(a: &Args) -> Result<i32, Usage> {
    if a.trials == 0 || a.trials > 1000 || !(a.budget > 0.0 && a.budget <= 86_400.0) {
        return Err(Usage(
            "--trials must be 1..=1000 and --budget 0..=86400 s".into(),
        ));
    }
    let mut ts = targets(&a.crashes)?;
    if let Some(o) = &a.only {
        ts.retain(|t| t.bugs.iter().any(|b| b.contains(o.as_str())));
    }
    if ts.is_empty() {
        return Err(Usage(format!(
            "{}: no known bugs found",
            a.crashes.display()
        )));
    }
    let budget = Duration::from_secs_f64(a.budget);
    let mut engines = Vec::new();
    for e in a.engines.split(',').map(str::trim) {
        match e {
            "builtin" => engines.push("builtin"),
            "libfuzzer" if a.libfuzzer_bin.is_file() => engines.push("libfuzzer"),
            "libfuzzer" => crate::outln!(
                "skipping libfuzzer: {} not built (cargo +nightly fuzz build -O vtd)",
                a.libfuzzer_bin.display()
            ),
            "afl" if afl_available(&a.afl_bin) => engines.push("afl"),
            "afl" => crate::outln!("skipping afl: cargo-afl or {} missing", a.afl_bin.display()),
            x => {
                return Err(Usage(format!(
                    "unknown engine {x:?} (builtin, libfuzzer, afl)"
                )))
            }
        }
    }
    crate::outln!(
        "time to bug, {} trials per cell, budget {} s, seconds (median min max  hits)",
        a.trials,
        a.budget
    );
    crate::outln!(
        "{:<44} {:<13} {:<10} {:>7} {:>7} {:>7}  hits",
        "bug (signature)",
        "variant",
        "engine",
        "median",
        "min",
        "max"
    );
    for t in &ts {
        for e in &engines {
            let (lf, afl_bin) = (t.variant.bin(&a.libfuzzer_bin), t.variant.bin(&a.afl_bin));
            let missing = match *e {
                "libfuzzer" => Some(&lf).filter(|b| !b.is_file()),
                "afl" => Some(&afl_bin).filter(|b| !b.is_file()),
                _ => None,
            };
            if let Some(b) = missing {
                crate::outln!(
                    "{:<44} {:<13} {:<10} not built: {}",
                    t.bugs.join(","),
                    t.variant.name(),
                    e,
                    b.display()
                );
                continue;
            }
            let mut times = Vec::new();
            for k in 1..=u64::from(a.trials) {
                times.push(match *e {
                    "builtin" => builtin(t, k, budget),
                    "libfuzzer" => libfuzzer(&lf, t, k, budget)?,
                    _ => afl(&afl_bin, t, k, budget)?,
                });
            }
            crate::outln!(
                "{:<44} {:<13} {:<10} {}",
                t.bugs.join(","),
                t.variant.name(),
                e,
                summary(&times, a.budget)
            );
            crate::outln!("  {}", t.sig);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smmuv3_binaries_sit_beside_the_vtd_ones() {
        let v = Var::Smmuv3(smmu_variants::newest());
        let lf = Path::new("fuzz/target/x86_64-unknown-linux-gnu/release/vtd");
        assert_eq!(
            v.bin(lf),
            Path::new("fuzz/target/x86_64-unknown-linux-gnu/release/smmuv3")
        );
        assert_eq!(
            v.bin(Path::new("fuzz/afl/target/release/vtd-afl")),
            Path::new("fuzz/afl/target/release/smmuv3-afl")
        );
        assert_eq!(Var::Vtd(variants::newest()).bin(lf), lf);
    }

    #[test]
    fn summary_counts_misses_as_beyond_the_budget() {
        let s = |x: f64| Some(Duration::from_secs_f64(x));
        let row = summary(&[s(1.0), None, s(3.0)], 10.0);
        assert_eq!(row, "  3.000   1.000   3.000  2/3");
        let row = summary(&[None, None, s(2.0)], 10.0);
        assert!(row.starts_with("    >10"), "{row}");
    }
}
