//! The command line as a user meets it: every entry point given bad input answers with one line
//! and exit code 2, never a panic or backtrace, and writes nothing; good input works.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iommufuzz"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iommufuzz-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn assert_bad(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: exit code; stderr {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{what}: {err}"
    );
    let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(lines >= 1, "{what}: a reason is given");
    assert!(
        err.starts_with("iommufuzz: ") || err.starts_with("error:"),
        "{what}: {err}"
    );
}

fn crash(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crashes")
        .join(name)
        .join("scenario.json")
        .display()
        .to_string()
}

#[test]
fn bad_files_are_refused_with_one_line_and_exit_2() {
    let d = tmp("bad");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("oversized", vec![7u8; 2 << 20]),
        ("truncated.json", br#"{"model": "vtd", "variant": "linux-7.0", "con"#.to_vec()),
        ("foreign.json", br#"{"hello": [1, 2, 3]}"#.to_vec()),
        ("other-model.json", br#"{"model": "amd", "variant": "x", "config": {}, "cpus": [], "faults": [], "env": [], "decisions": [], "heal_at": 0}"#.to_vec()),
    ];
    for (name, bytes) in &cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).expect("write");
        let ps = p.display().to_string();
        let o = run(&["replay", &ps]);
        assert_bad(&o, name);
        assert!(o.stdout.is_empty(), "{name}: nothing printed on stdout");
        let out = d.join(format!("{name}.out.json"));
        let o = run(&["convert", &ps, "--out", &out.display().to_string()]);
        assert_bad(&o, name);
        assert!(!out.exists(), "{name}: nothing written");
    }
    assert_bad(
        &run(&["replay", &d.join("missing").display().to_string()]),
        "missing file",
    );
    assert_bad(&run(&["replay", &d.display().to_string()]), "directory");
}

#[test]
fn invalid_scenarios_and_flags_are_refused() {
    let d = tmp("flags");
    let f = crash("count0-reclaim-3cf74230c139");
    let text = std::fs::read_to_string(&f).expect("crash file");
    let bad_len = text.replace("\"qlen\": 8", "\"qlen\": 7");
    let p = d.join("qlen.json");
    std::fs::write(&p, bad_len).expect("write");
    assert_bad(&run(&["replay", &p.display().to_string()]), "odd qlen");
    let bad_label = text.replace("\"hw:fetch\"", "\"hw:teleport\"");
    let p = d.join("label.json");
    std::fs::write(&p, bad_label).expect("write");
    assert_bad(&run(&["replay", &p.display().to_string()]), "unknown label");
    assert_bad(
        &run(&["replay", &f, "--variant", "linux-0.1"]),
        "unknown variant",
    );
    assert_bad(
        &run(&["replay", &f, "--disable", "nothing"]),
        "unknown class",
    );
    assert_bad(
        &run(&["replay", &f, "--suppressions", "/nonexistent/supp"]),
        "missing suppressions",
    );
    assert_bad(
        &run(&["explore", "--variant", "linux-7.0"]),
        "explore without a bound",
    );
    assert_bad(
        &run(&["explore", "--model", "nope", "--runs", "1"]),
        "unknown model",
    );
    assert_bad(
        &run(&["explore", "--runs", "1", "--until", "a:b"]),
        "bad --until",
    );
    assert_bad(
        &run(&["regress", &d.display().to_string()]),
        "regress on a dir without reproducers",
    );
    assert_bad(&run(&["bench", "--runs", "0"]), "bench with no runs");
    assert_bad(
        &run(&["bench", "--model", "smmuv3", "--runs", "0"]),
        "smmuv3 bench with no runs",
    );
    assert_bad(
        &run(&["bench", "--model", "amd"]),
        "bench of an unknown model",
    );
    assert_bad(&run(&["frobnicate"]), "unknown subcommand");
    assert_bad(&run(&[]), "no subcommand");
}

#[test]
fn good_input_gives_the_documented_exit_codes() {
    assert_eq!(run(&["list"]).status.code(), Some(0));
    let f = crash("count0-reclaim-3cf74230c139");
    let o = run(&["replay", &f]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "fails on the file's variant linux-5.8"
    );
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("verdict: VIOLATION slot-reuse")
            && s.contains("CPU0")
            && s.contains("reproduce: iommufuzz replay")
    );
    assert_eq!(
        run(&["replay", &f, "--variant", "linux-6.12"])
            .status
            .code(),
        Some(0)
    );
    let d = tmp("good");
    let out = d.join("x.json");
    assert_eq!(
        run(&["convert", &f, "--out", &out.display().to_string()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["replay", &out.display().to_string()]).status.code(),
        Some(1)
    );
    let o = run(&[
        "explore",
        "--variant",
        "linux-5.8",
        "--runs",
        "3000",
        "--seed",
        "3",
        "--out",
        &d.display().to_string(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "exploration of a buggy variant finds something"
    );
    let written = std::fs::read_dir(&d).expect("dir").count();
    assert!(written >= 3, "raw and JSON reproducers are written");
}

#[test]
fn json_report_says_what_the_text_report_says() {
    for (file, variant) in [
        ("count0-reclaim-3cf74230c139", "linux-5.8"),
        ("count0-reclaim-3cf74230c139", "linux-6.12"),
        ("smmuv3-skip-err-range-eb6c97647be2", "linux-6.4"),
    ] {
        let f = crash(file);
        let text = run(&["replay", &f, "--variant", variant]);
        let json = run(&["replay", &f, "--variant", variant, "--format", "json"]);
        assert_eq!(text.status.code(), json.status.code(), "{file} {variant}");
        let t = String::from_utf8_lossy(&text.stdout).to_string();
        let j: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
        assert_eq!(j["variant"], variant);
        let hash = j["trace_hash"].as_str().expect("hash");
        assert!(t.contains(&format!("trace={hash}")), "{file}: same run");
        match j["violation"]["signature"].as_str() {
            Some(sig) => {
                assert_eq!(j["verdict"], "violation");
                assert!(t.contains(&format!("(signature {sig})")), "{file}: {sig}");
            }
            None => assert!(j["verdict"] == "pass" && t.starts_with("verdict: PASS")),
        }
        let events = j["timeline"].as_array().expect("timeline");
        assert!(
            events
                .iter()
                .any(|e| e["who"].as_str().is_some_and(|w| w.starts_with("cpu"))),
            "{file}: CPU events"
        );
        assert!(j["reproduce"]
            .as_str()
            .unwrap_or("")
            .starts_with("iommufuzz replay"));
    }
    assert_bad(
        &run(&[
            "replay",
            &crash("count0-reclaim-3cf74230c139"),
            "--format",
            "xml",
        ]),
        "unknown format",
    );
}

#[test]
fn html_report_is_one_page_with_the_verdict_and_every_timeline_event() {
    for (file, variant) in [
        ("odd-walk-even-wait-fe89277c9ceb", "linux-6.12"),
        ("odd-walk-even-wait-fe89277c9ceb", "linux-7.0"),
        ("smmuv3-skip-err-range-eb6c97647be2", "linux-6.4"),
    ] {
        let f = crash(file);
        let json = run(&["replay", &f, "--variant", variant, "--format", "json"]);
        let html = run(&["replay", &f, "--variant", variant, "--format", "html"]);
        assert_eq!(json.status.code(), html.status.code(), "{file} {variant}");
        let j: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
        let h = String::from_utf8_lossy(&html.stdout).to_string();
        assert!(h.starts_with("<!DOCTYPE html>") && h.trim_end().ends_with("</html>"));
        assert!(!h.contains("<script"), "{file}: self-contained, no script");
        match j["violation"]["signature"].as_str() {
            Some(sig) => assert!(h.contains("VIOLATION") && h.contains(sig), "{file}: {sig}"),
            None => assert!(h.contains(&format!("PASS on {variant}"))),
        }
        assert!(
            h.contains(j["trace_hash"].as_str().expect("hash")),
            "{file}: same run"
        );
        // Every event of the JSON timeline is a row (repeats fold into one row with a count).
        let events = j["timeline"].as_array().expect("timeline").len();
        let rows = h.matches("<tr").count() - 1;
        assert!(
            rows > 10 && rows <= events,
            "{file}: {rows} rows for {events} events"
        );
    }
}

/// `digest` gives one line per variant of both models, the same on every run of the same
/// sample and different for another sample; a sample past its limit is bad usage.
#[test]
fn digest_is_the_same_for_the_same_sample() {
    let a = run(&["digest", "--inputs", "40"]);
    let b = run(&["digest", "--inputs", "40"]);
    let c = run(&["digest", "--inputs", "40", "--seed", "8"]);
    assert_eq!(a.status.code(), Some(0));
    let (a, b, c) = (a.stdout, b.stdout, c.stdout);
    assert_eq!(a, b, "same sample, same digest");
    assert_ne!(a, c, "another sample, another digest");
    let text = String::from_utf8(a).expect("utf-8");
    let variants = iommufuzz::VARIANTS.len() + iommufuzz::smmuv3::variants::VARIANTS.len();
    assert_eq!(text.lines().count(), variants, "{text}");
    assert!(text
        .lines()
        .all(|l| l.starts_with("digest ") && l.contains("(104 runs")));
    assert_bad(
        &run(&["digest", "--inputs", "2000000"]),
        "digest --inputs too large",
    );
}

/// Release builds keep the world in an unchecked cell (`src/sim/cell.rs`): they rely on no
/// borrow of it ever overlapping a mutable one. This build, with debug assertions, checks that
/// rule at every borrow; here over the whole digest sample, 3,064 runs on every variant of both
/// models. A borrow that breaks it panics, and the command exits 101.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the check needs the build with debug assertions"
)]
fn the_whole_digest_sample_keeps_to_the_borrow_rule() {
    let out = run(&["digest"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.lines().all(|l| l.contains("(3064 runs")), "{text}");
}

/// A reader that goes away (`iommufuzz list | head -1`) ends the command quietly: exit 0, no
/// panic. The pipe is closed before the command writes, so its first write fails.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::process::Stdio;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crash = root.join("crashes/count0-reclaim-3cf74230c139");
    for args in [
        vec!["list", "--knobs"],
        vec!["regress", crash.parent().unwrap().to_str().unwrap()],
        vec!["triage", crash.to_str().unwrap()],
    ] {
        let mut child = bin()
            .args(&args)
            .current_dir(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary runs");
        drop(child.stdout.take());
        let o = child.wait_with_output().expect("exits");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `list --knobs` shows every variant's knob values under it, a struct-valued knob with its
/// fields; plain `list` leaves them out.
#[test]
fn list_knobs_shows_each_variants_values() {
    let o = run(&["list", "--knobs"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let knobs_of = |name: &str| {
        let at = out.find(&format!("  {name} ")).expect("variant listed");
        let line = out[at..]
            .lines()
            .find(|l| l.trim_start().starts_with("knobs:"));
        line.expect("knobs line").to_string()
    };
    let old = knobs_of("linux-2.6.31");
    assert!(
        old.contains(" api=Single ") && old.contains(" pasid=false "),
        "{old}"
    );
    assert!(
        !old.contains("name=") && !old.contains("upstream="),
        "{old}"
    );
    let msi = knobs_of("msi-seq-2018");
    assert!(
        msi.contains("design=Spinlock { msidata_in_lock=false } "),
        "{msi}"
    );
    let plain = run(&["list"]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("knobs:"));
}
