//! `iommufuzz explore --model smmuv3`: seeded random exploration of the SMMUv3 model. Every
//! other command reaches both models through the generic code beside this file.

use super::replay::out;
use super::{OracleArgs, Usage};
use crate::smmuv3::model::Smmuv3Model;
use crate::smmuv3::scenario::{decode, Runner, Scenario, Source};
use crate::smmuv3::variants::Variant;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// `println!` that ignores a closed pipe (`| head`), as `out` does.
macro_rules! outln {
    ($($t:tt)*) => {
        out(&format!("{}\n", format_args!($($t)*)))
    };
}

/// What one explore worker did: runs, and how often each signature was seen.
type Tally = (u64, BTreeMap<String, u64>);

/// Resolves a variant name: the flag, else the file's, else the newest upstream.
fn variant(flag: Option<&str>, file: Option<&str>) -> Result<&'static Variant, String> {
    super::input::variant::<Smmuv3Model>(flag, file)
}

/// The SMMUv3 runner with the oracle flags applied (what `explore` runs).
fn runner(o: &OracleArgs) -> Result<Runner, Usage> {
    super::runner_for::<Smmuv3Model>(o)
}

/// `iommufuzz explore --model smmuv3` (one worker per job, seeds seed..seed+jobs).
pub fn explore(a: &super::explore::Args) -> Result<i32, Usage> {
    if a.seconds.is_none() && a.runs.is_none() {
        return Err(Usage("give --seconds S or --runs N".into()));
    }
    if a.jobs == 0 || a.jobs > 64 || a.max_len == 0 || a.max_len > 1 << 20 {
        return Err(Usage("-j must be 1..=64 and --max-len 1..=1048576".into()));
    }
    let var = variant(a.variant.as_deref(), None)?;
    runner(&a.oracle)?;
    let start = Instant::now();
    let res: Vec<Result<Tally, Usage>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..a.jobs)
            .map(|i| s.spawn(move || worker(a, var, a.seed + u64::from(i), start)))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Usage("worker panicked".into())))
            })
            .collect()
    });
    let mut n = 0;
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for r in res {
        let (k, m) = r?;
        n += k;
        for (sig, c) in m {
            *seen.entry(sig).or_insert(0) += c;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    outln!(
        "explore smmuv3 {}: {n} runs in {secs:.2} s ({:.0} exec/s), {} distinct violations",
        var.name,
        n as f64 / secs.max(1e-9),
        seen.len()
    );
    for (sig, count) in &seen {
        outln!("  {count:>8}  {sig}");
    }
    Ok(if seen.is_empty() { 0 } else { 1 })
}

fn worker(
    a: &super::explore::Args,
    var: &'static Variant,
    seed: u64,
    start: Instant,
) -> Result<Tally, Usage> {
    let mut r = runner(&a.oracle)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; a.max_len];
    let deadline = a.seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut seen = BTreeMap::new();
    let mut n = 0u64;
    while a.runs.is_none_or(|m| n < m) {
        if n % 256 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let len = rng.random_range(1..=buf.len());
        rng.fill_bytes(&mut buf[..len]);
        let sc = decode(&buf[..len]);
        let v = r.run(&sc, var, Source::Bytes(&sc.decisions));
        n += 1;
        if let Some(x) = v.violation {
            let sig = x.signature();
            let first = !seen.contains_key(&sig);
            *seen.entry(sig.clone()).or_insert(0) += 1;
            if first {
                out(&format!(
                    "new violation {sig} on {} at run {n} of seed {seed}: {}\n",
                    var.name, x.msg
                ));
                if let Some(dir) = &a.out {
                    save(dir, &sig, &r, &sc, var, &buf[..len])?;
                }
                if a.stop {
                    break;
                }
            }
        }
    }
    Ok((n, seen))
}

fn save(
    dir: &Path,
    sig: &str,
    r: &Runner,
    sc: &Scenario,
    var: &Variant,
    raw: &[u8],
) -> Result<(), Usage> {
    let stem = format!("smmuv3-{}-{sig}", var.name);
    super::explore::save_repro(dir, &stem, raw, &r.to_file(sc, var))
}
