//! The decision sources beyond fuzzer bytes. `iommufuzz check` (bounded exhaustive search) tells
//! a buggy variant from its fix on the same scenario, states whether the bound was exhausted,
//! and refuses bad bounds; `explore --schedule pct` writes raw and JSON reproducers that replay
//! to the violation PCT found.

mod common;

use common::{bin as run, stdout as text};
use std::process::Output;

fn crash(name: &str) -> String {
    common::root()
        .join("crashes")
        .join(name)
        .join("scenario.json")
        .display()
        .to_string()
}

fn tmp(name: &str) -> std::path::PathBuf {
    common::tmp("schedules", name)
}

#[test]
fn count0_reclaim_fails_before_the_fix_and_passes_every_schedule_after() {
    let f = crash("count0-reclaim-3cf74230c139");
    let d = tmp("count0");
    let ds = d.display().to_string();
    let bad = run(&["check", &f, "--variant", "linux-6.11", "--out", &ds]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("slot-reuse:reclaim_free_desc:free-other"));
    assert!(text(&bad).contains("all schedules within depth 40, at most 2 deviations"));
    // The schedule written for the signature replays to the same violation.
    let saved = d.join("slot-reuse_reclaim_free_desc_free-other.json");
    let o = run(&["replay", &saved.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("slot-reuse:reclaim_free_desc:free-other"));
    let good = run(&["check", &f, "--variant", "linux-6.12"]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert!(text(&good).contains("no violation"));
    // Same bound, same scenario: the same number of schedules on both variants.
    let n = |o: &Output| {
        text(o)
            .split(": ")
            .nth(1)
            .map(|s| s.split(' ').next().unwrap_or("").to_string())
    };
    assert_eq!(n(&bad), n(&good));
}

#[test]
fn cmdq_lock_starvation_needs_one_deviation_and_its_fix_passes_every_such_schedule() {
    let f = crash("smmuv3-cmdq-lock-starvation-df180b1a4cc5");
    // The depth of the README's table: the default schedule of a shorter prefix already
    // starves on linux-6.4.
    let args = |v: &'static str, dev: &'static str| {
        run(&[
            "check",
            &f,
            "--variant",
            v,
            "--deviations",
            dev,
            "--depth",
            "60",
        ])
    };
    let default_only = args("linux-6.4", "0");
    assert_eq!(
        default_only.status.code(),
        Some(0),
        "{}",
        text(&default_only)
    );
    assert!(text(&default_only).contains(": 1 schedules"));
    let bad = args("linux-6.4", "1");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("starvation:arm_smmu_cmdq_shared_lock:bypassed"));
    let good = args("linux-7.0", "1");
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert!(text(&good).contains("all schedules within depth 60, at most 1 deviations"));
}

#[test]
fn a_cut_search_says_it_is_not_exhaustive() {
    let f = crash("count0-reclaim-3cf74230c139");
    let o = run(&["check", &f, "--variant", "linux-6.12", "--max-runs", "10"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains(": 10 schedules") && text(&o).contains("NOT exhaustive"));
}

#[test]
fn bad_bounds_and_files_are_refused() {
    let f = crash("count0-reclaim-3cf74230c139");
    for args in [
        vec!["check", f.as_str(), "--depth", "0"],
        vec!["check", f.as_str(), "--max-runs", "0"],
        vec!["check", f.as_str(), "--variant", "linux-0.1"],
        vec!["check", "/nonexistent/scenario.json"],
        vec!["check", f.as_str(), "--deviations", "x"],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("iommufuzz: ") && !err.contains("panicked"),
            "{err}"
        );
    }
}

/// Runs `explore --schedule pct` and replays every reproducer it wrote: each must show the
/// signature its file is named after. `prefix` is how the model's file names start.
fn pct_reproducers_replay(model: &str, variant: &str, prefix: &str) {
    let d = tmp(&format!("pct-{model}"));
    let ds = d.display().to_string();
    let o = run(&[
        "explore",
        "--model",
        model,
        "--variant",
        variant,
        "--seed",
        "3",
        "--runs",
        "3000",
        "--schedule",
        "pct",
        "--out",
        &ds,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let mut checked = 0;
    for e in std::fs::read_dir(&d).expect("reproducers written") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        // <prefix><class>_<function>_<cause>.raw
        let sig = name
            .trim_start_matches(prefix)
            .trim_end_matches(".raw")
            .trim_end_matches(".json");
        let ps = p.display().to_string();
        let o = run(&["replay", &ps, "--model", model, "--variant", variant]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let first = text(&o).lines().next().unwrap_or("").replace(':', "_");
        assert!(
            first.contains(&format!("signature {sig})")),
            "{name}: {first}"
        );
        checked += 1;
    }
    assert!(checked >= 4, "raw and JSON of at least two signatures");
}

#[test]
fn pct_reproducers_replay_to_the_violation_they_were_saved_for() {
    pct_reproducers_replay("vtd", "linux-6.12", "linux-6.12-");
    pct_reproducers_replay("smmuv3", "linux-6.4", "smmuv3-linux-6.4-");
}

#[test]
fn around_a_reproducer_the_fix_holds_and_the_bug_is_the_base_schedule() {
    let f = crash("odd-walk-even-wait-fe89277c9ceb");
    let supp = common::root().join("suppressions/upstream-known.supp");
    let supp = supp.display().to_string();
    let args = |v: &'static str, dev: &'static str| {
        run(&[
            "check",
            &f,
            "--variant",
            v,
            "--around",
            "--deviations",
            dev,
            "--suppressions",
            &supp,
        ])
    };
    let base = args("linux-6.12", "0");
    assert_eq!(base.status.code(), Some(1), "{}", text(&base));
    assert!(text(&base).contains(": 1 schedules"));
    assert!(text(&base).contains("hard-lockup:qi_submit_sync:ite-walk-missed-wait"));
    let fixed = args("linux-7.0", "2");
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed));
    assert!(text(&fixed).contains("at most 2 deviations from the file's schedule)"));
}
