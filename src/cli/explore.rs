//! `iommufuzz explore`: seeded random exploration through the same decoder the fuzz targets use,
//! for every model. Each run draws random bytes from a seeded `StdRng`, decodes them with the
//! fuzz targets' `decode` and runs them, its decisions taken from those bytes or from PCT; each
//! new violation signature is written as a raw file (replayable by every engine) plus a JSON
//! scenario file.

use super::campaign::{say, tag, Campaign};
use super::{OracleArgs, Usage};
use crate::sim::choice::pick_bytes;
use crate::sim::model::{self, Model, ScenarioOf, Variant as _};
use crate::sim::outcome::Source;
use crate::sim::pct::Pct;
use crate::sim::runner::Runner;
use crate::smmuv3::model::Smmuv3Model;
use crate::vtd::model::VtdModel;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Options of `explore`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Model to explore.
    #[arg(long, default_value = "vtd")]
    pub model: String,
    /// Variant (default: the newest upstream).
    #[arg(long)]
    pub variant: Option<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Stop after this many runs (per worker).
    #[arg(long)]
    pub runs: Option<u64>,
    /// Seed of the random byte generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where new violations are written (raw + JSON); nothing is written without it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Parallel workers (worker i uses seed + i).
    #[arg(short = 'j', long, default_value_t = 1)]
    pub jobs: u32,
    /// Longest random input in bytes.
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Stop at the first violation (time-to-bug measurements).
    #[arg(long)]
    pub stop: bool,
    /// Stop at the first violation whose signature matches `class:function:cause` (`*` matches
    /// any field); other violations are counted and the search goes on.
    #[arg(long)]
    pub until: Option<String>,
    /// Hardware fetches everything it can before an ATS request times out (see `Config`).
    #[arg(long)]
    pub eager_fetch: bool,
    /// Who takes the decisions: the random input's own bytes (as a fuzzer's input would), or
    /// PCT (random actor priorities with `--pct-depth` - 1 change points, seeded per run).
    #[arg(long, value_enum, default_value_t = Schedule::Bytes)]
    pub schedule: Schedule,
    /// Depth of the bugs PCT aims at (ordering constraints); 1 means no change point.
    #[arg(long, default_value_t = 3)]
    pub pct_depth: u32,
    /// Oracle options.
    #[command(flatten)]
    pub oracle: OracleArgs,
}

/// Decision sources `explore` can use.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// One input byte per decision, then healing: what the fuzz targets do.
    Bytes,
    /// Probabilistic concurrency testing over the same scenarios.
    Pct,
}

struct Shared {
    runs: AtomicU64,
    stop: AtomicBool,
    seen: Mutex<BTreeMap<String, u64>>,
    start: Instant,
}

fn worker<M: Campaign>(
    a: &Args,
    var: &'static M::Variant,
    seed: u64,
    sh: &Shared,
) -> Result<(), Usage> {
    let mut r = super::runner_for::<M>(&a.oracle)?;
    // A found violation is saved from its input and decision log; nothing reads the trace.
    r.set_tracing(false);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; a.max_len.max(1)];
    let mut pct = Pct::new(0, a.pct_depth, 1);
    let deadline = a.seconds.map(|s| sh.start + Duration::from_secs_f64(s));
    let mut n = 0u64;
    while a.runs.is_none_or(|m| n < m) && !sh.stop.load(Ordering::Relaxed) {
        if n % 256 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let len = rng.random_range(1..=buf.len());
        rng.fill_bytes(&mut buf[..len]);
        let mut sc = model::decode::<M>(&buf[..len]);
        if a.eager_fetch {
            M::eager_fetch(&mut sc.config);
        }
        let v = match a.schedule {
            Schedule::Bytes => r.run(&sc, var, Source::Bytes(&sc.decisions)),
            Schedule::Pct => {
                // As many decisions as the input's bytes would have taken, then healing.
                pct.reset(rng.next_u64(), a.pct_depth, sc.decisions.len());
                r.run_with(&sc, var, &mut pct)
            }
        };
        n += 1;
        sh.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(x) = v.violation {
            let raw = raw_of(a, &r, &buf[..len], sc.decisions.len())?;
            found(a, &r, &sc, var, &raw, &x, seed, n, sh)?;
        }
    }
    Ok(())
}

/// The raw input that replays the run just made: the input itself, or, under PCT, its head
/// followed by the bytes of the picks PCT made (a byte b picks b % n, so each pick is its byte).
fn raw_of<M: Model>(a: &Args, r: &Runner<M>, input: &[u8], ndec: usize) -> Result<Vec<u8>, Usage> {
    if a.schedule == Schedule::Bytes {
        return Ok(input.to_vec());
    }
    let (_, heal_at) = r.log();
    let mut raw = input[..input.len() - ndec].to_vec();
    raw.extend(pick_bytes(&r.picks()[..heal_at]).map_err(Usage)?);
    Ok(raw)
}

#[allow(clippy::too_many_arguments)]
fn found<M: Campaign>(
    a: &Args,
    r: &Runner<M>,
    sc: &ScenarioOf<M>,
    var: &'static M::Variant,
    raw: &[u8],
    x: &crate::Violation,
    seed: u64,
    n: u64,
    sh: &Shared,
) -> Result<(), Usage> {
    let sig = x.signature();
    let mut seen = sh
        .seen
        .lock()
        .expect("no worker panics while holding the lock");
    *seen.entry(sig.clone()).or_insert(0) += 1;
    if seen[&sig] > 1 {
        return Ok(());
    }
    let t = sh.start.elapsed().as_secs_f64();
    say::<M>(&format!(
        "new violation {sig} on {} at run {n} of seed {seed}, {t:.2} s: {}\n",
        var.name(),
        x.msg
    ));
    if let Some(dir) = &a.out {
        let stem = format!("{}{}-{sig}", tag::<M>("-"), var.name());
        save_repro(dir, &stem, raw, &r.to_file(sc, var))?;
    }
    let hit = match &a.until {
        Some(pat) => crate::Suppressions::parse(pat)
            .map(|p| p.matches(x))
            .unwrap_or(false),
        None => a.stop,
    };
    if hit {
        say::<M>(&format!(
            "time-to-bug: {t:.3} s, {} runs (worker seed {seed}, run {n})\n",
            sh.runs.load(Ordering::Relaxed)
        ));
        sh.stop.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Writes a reproducer as `<dir>/<stem>.raw` and `<dir>/<stem>.json`; the stem keeps letters,
/// digits and `-` and turns everything else (the `:` of a signature) into `_`.
pub fn save_repro(
    dir: &Path,
    stem: &str,
    raw: &[u8],
    json: &impl serde::Serialize,
) -> Result<(), Usage> {
    let stem = file_stem(stem);
    write_json(dir, &stem, json)?;
    let io = |e: std::io::Error| Usage(format!("{}: {e}", dir.display()));
    std::fs::write(dir.join(format!("{stem}.raw")), raw).map_err(io)?;
    super::out::out(&format!("  wrote {}/{stem}.raw and .json\n", dir.display()));
    Ok(())
}

/// A file name stem made of `s`: letters, digits, `-` and `.` kept, anything else (the `:` of a
/// signature) turned into `_`.
pub fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `json` pretty-printed as `<dir>/<stem>.json`, creating `dir`; returns the path.
pub fn write_json(dir: &Path, stem: &str, json: &impl serde::Serialize) -> Result<PathBuf, Usage> {
    let io = |e: std::io::Error| Usage(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join(format!("{stem}.json"));
    let s = serde_json::to_string_pretty(json).map_err(|e| Usage(e.to_string()))?;
    std::fs::write(&path, s + "\n").map_err(io)?;
    Ok(path)
}

fn progress(sh: &Shared, jobs: u32) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
    );
    let _ = jobs;
    pb.enable_steady_tick(Duration::from_millis(250));
    pb.set_message(format!(
        "runs 0, violations {}",
        sh.seen.lock().map(|s| s.len()).unwrap_or(0)
    ));
    pb
}

/// `iommufuzz explore`.
pub fn explore(a: &Args) -> Result<i32, Usage> {
    match a.model.as_str() {
        VtdModel::NAME => explore_as::<VtdModel>(a),
        Smmuv3Model::NAME => explore_as::<Smmuv3Model>(a),
        m => Err(Usage(format!(
            "model {m:?} is not supported (known: vtd, smmuv3)"
        ))),
    }
}

fn explore_as<M: Campaign>(a: &Args) -> Result<i32, Usage> {
    if a.seconds.is_none() && a.runs.is_none() {
        return Err(Usage("give --seconds S or --runs N".into()));
    }
    if a.jobs == 0 || a.jobs > 64 || a.max_len == 0 || a.max_len > 1 << 20 {
        return Err(Usage("-j must be 1..=64 and --max-len 1..=1048576".into()));
    }
    if a.pct_depth == 0 || a.pct_depth > 64 {
        return Err(Usage("--pct-depth must be 1..=64".into()));
    }
    if a.eager_fetch && !M::eager_fetch(&mut M::Config::default()) {
        return Err(Usage(format!(
            "--eager-fetch is not a setting of model {}",
            M::NAME
        )));
    }
    let var = super::input::variant::<M>(a.variant.as_deref(), None).map_err(Usage)?;
    super::runner_for::<M>(&a.oracle)?;
    if let Some(p) = &a.until {
        crate::Suppressions::parse(p).map_err(|e| Usage(format!("--until: {e}")))?;
    }
    let sh = Shared {
        runs: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        seen: Mutex::new(BTreeMap::new()),
        start: Instant::now(),
    };
    let pb = progress(&sh, a.jobs);
    let res: Vec<Result<(), Usage>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..a.jobs)
            .map(|i| {
                let sh = &sh;
                s.spawn(move || worker::<M>(a, var, a.seed + u64::from(i), sh))
            })
            .collect();
        let tick = std::thread::spawn(|| ());
        let _ = tick.join();
        while !hs.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            let n = sh.runs.load(Ordering::Relaxed);
            let rate = n as f64 / sh.start.elapsed().as_secs_f64().max(1e-9);
            let nv = sh.seen.lock().map(|s| s.len()).unwrap_or(0);
            pb.set_message(format!(
                "runs {n}, {rate:.0} exec/s, distinct violations {nv}"
            ));
        }
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Usage("worker panicked".into())))
            })
            .collect()
    });
    pb.finish_and_clear();
    for r in res {
        r?;
    }
    let n = sh.runs.load(Ordering::Relaxed);
    let secs = sh.start.elapsed().as_secs_f64();
    let seen = sh.seen.lock().expect("workers are done");
    say::<M>(&format!(
        "explore {}{}: {n} runs in {secs:.2} s ({:.0} exec/s), {} distinct violations\n",
        tag::<M>(" "),
        var.name(),
        n as f64 / secs.max(1e-9),
        seen.len()
    ));
    for (sig, count) in seen.iter() {
        say::<M>(&format!("  {count:>8}  {sig}\n"));
    }
    Ok(if seen.is_empty() { 0 } else { 1 })
}
