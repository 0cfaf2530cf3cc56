//! Campaign tooling end to end: the checked-in seed corpus, the fuzz-target entry points,
//! minimize and triage through the real binary, and bad input to every command.

mod common;

use common::{bin, read_dir, root, stdout, tmp};
use iommufuzz::cli::corpus;
use iommufuzz::vtd::model::VtdModel;
use iommufuzz::vtd::variants::{self, VARIANTS};
use iommufuzz::{decode, Runner, Source};
use std::path::{Path, PathBuf};
use std::process::Output;

#[test]
fn checked_in_corpus_is_what_the_generator_writes() {
    let mut r = Runner::default();
    for (dir, any) in [("corpus/vtd", false), ("corpus/vtd_any", true)] {
        let mut want = corpus::build(&mut r, variants::newest(), any);
        want.sort();
        assert_eq!(
            read_dir(&root().join(dir)),
            want,
            "{dir} is stale: run `iommufuzz corpus --out {dir}{}` and delete the files it names as kept",
            if any { " --any" } else { "" }
        );
    }
    let dict = std::fs::read_to_string(root().join("fuzz/vtd.dict")).unwrap();
    assert_eq!(
        dict,
        corpus::dict::<VtdModel>(),
        "fuzz/vtd.dict is stale: run `iommufuzz corpus --out corpus/vtd --dict fuzz/vtd.dict`"
    );
}

/// `corpus` rewrites its seeds and names, but never deletes, the other files in the directory:
/// a seed an older build wrote, or an input a fuzzer added.
#[test]
fn corpus_names_the_files_it_keeps_that_are_not_seeds() {
    let d = tmp("corpus", "others");
    std::fs::write(d.join("old-seed"), b"x").unwrap();
    std::fs::write(d.join("fault-ite"), b"stale bytes").unwrap();
    let o = bin(&["corpus", "--out", d.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(
        out.contains("kept 1 other file(s)") && out.contains(": old-seed"),
        "{out}"
    );
    assert_eq!(std::fs::read(d.join("old-seed")).unwrap(), b"x");
    let seed = std::fs::read(root().join("corpus/vtd/fault-ite")).unwrap();
    assert_eq!(std::fs::read(d.join("fault-ite")).unwrap(), seed);
}

#[test]
fn corpus_reaches_every_operation_fault_and_event_and_never_crashes() {
    let mut r = Runner::default();
    let mut seen = std::collections::BTreeSet::new();
    for (name, bytes) in read_dir(&root().join("corpus/vtd")) {
        let sc = decode(&bytes);
        for p in &sc.cpus {
            for o in &p.ops {
                let s = format!("{o:?}");
                seen.insert(s.split('(').next().unwrap().to_string());
                for k in [
                    "Iotlb",
                    "DevTlb(",
                    "Piotlb",
                    "DevTlbPasid",
                    "Context",
                    "Iec",
                ] {
                    if s.contains(k) {
                        seen.insert(format!("inv {k}"));
                    }
                }
            }
        }
        let v = r.run(&sc, variants::newest(), Source::Bytes(&sc.decisions));
        assert!(
            v.violation.is_none(),
            "seed {name} crashes: {:?}",
            v.violation
        );
        // Faults and events are counted only when the run really took them.
        for l in r.decisions().0 {
            if l.starts_with("fault:") || l.starts_with("env:") {
                seen.insert(l.split(' ').next().unwrap().to_string());
            }
        }
    }
    let want = [
        "Flush",
        "PrqDrain",
        "Teardown",
        "Shutdown",
        "inv Iotlb",
        "inv DevTlb(",
        "inv Piotlb",
        "inv DevTlbPasid",
        "inv Context",
        "inv Iec",
        "fault:ite",
        "fault:iqe",
        "fault:ice",
        "env:hang",
        "env:recover",
        "env:remove",
        "env:link-down",
    ];
    for w in want {
        assert!(seen.contains(w), "corpus misses {w}; has {seen:?}");
    }
}

#[test]
fn vtd_any_corpus_passes_on_the_variant_its_first_byte_selects() {
    let mut t = iommufuzz::fuzz::VtdTarget::configure(None, None, None).unwrap();
    let files = read_dir(&root().join("corpus/vtd_any"));
    let mut vars = std::collections::BTreeSet::new();
    for (name, bytes) in &files {
        let (v, _) = iommufuzz::fuzz::split_any::<VtdModel>(bytes);
        assert!(
            name.ends_with(v.name),
            "{name} is named after another variant"
        );
        assert!(t.check_any(bytes).is_none(), "{name} crashes");
        vars.insert(v.name);
    }
    assert!(vars.len() >= VARIANTS.len() / 2, "only {vars:?}");
}

/// True for a crashes/ entry of the VT-d model (the fuzz front ends and triage cover VT-d).
fn is_vtd(name: &str) -> bool {
    let p = root().join("crashes").join(name).join("scenario.json");
    std::fs::read_to_string(p).is_ok_and(|t| t.contains("\"model\": \"vtd\""))
}

/// Raw forms of the known bugs, with their variants, via `minimize`.
fn minimized_crashes(out: &Path) -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(root().join("crashes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names.retain(|n| is_vtd(n));
    for name in names {
        let json = root().join("crashes").join(&name).join("scenario.json");
        let text = std::fs::read_to_string(&json).unwrap();
        let f: iommufuzz::ScenarioFile = serde_json::from_str(&text).unwrap();
        let o = bin(&[
            "minimize",
            json.to_str().unwrap(),
            "--out",
            out.join(&name).to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        v.push((out.join(format!("{name}.raw")), f.variant));
    }
    v
}

fn first_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn minimized_reproducers_keep_their_signature_in_every_front_end() {
    let d = tmp("test", "min");
    for (raw, var) in minimized_crashes(&d) {
        let json = raw.with_extension("json");
        let before = bin(&[
            "replay",
            &format!(
                "crashes/{}/scenario.json",
                raw.file_stem().unwrap().to_string_lossy()
            ),
        ]);
        let sig = |o: &Output| {
            first_line(o)
                .split("signature ")
                .nth(1)
                .map(|s| s.trim_end_matches(')').to_string())
        };
        let want = sig(&before).expect("known bug fails");
        for f in [&raw, &json] {
            let o = bin(&["replay", f.to_str().unwrap(), "--variant", &var]);
            assert_eq!(o.status.code(), Some(1));
            assert_eq!(sig(&o).as_deref(), Some(want.as_str()), "{}", f.display());
        }
        // The fuzz target's entry point sees the same bug in the same bytes, with the same
        // trace as the command line.
        let bytes = std::fs::read(&raw).unwrap();
        let mut t = iommufuzz::fuzz::VtdTarget::configure(Some(&var), None, None).unwrap();
        let report = t.check(&bytes).expect("fuzz target crashes on it");
        let cli = String::from_utf8_lossy(
            &bin(&["replay", raw.to_str().unwrap(), "--variant", &var]).stdout,
        )
        .to_string();
        let trace = |s: &str| s.lines().find(|l| l.contains("trace=")).map(str::to_string);
        assert_eq!(trace(&report), trace(&cli));
        assert!(report.contains(&want));
        // vtd_any: the variant byte in front gives the same verdict.
        let mut any = vec![iommufuzz::fuzz::any_byte::<VtdModel>(
            variants::by_name(&var).unwrap(),
        )];
        any.extend_from_slice(&bytes);
        assert_eq!(trace(&t.check_any(&any).unwrap()), trace(&report));
    }
}

#[test]
fn minimize_shrinks_the_feng_race_and_leaves_the_input_alone() {
    let d = tmp("test", "feng");
    let src = root().join("crashes/feng-v1-eagain-race/scenario.json");
    let before = std::fs::read(&src).unwrap();
    let o = bin(&[
        "minimize",
        src.to_str().unwrap(),
        "--out",
        d.join("m").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(&src).unwrap(), before);
    let f: iommufuzz::ScenarioFile =
        serde_json::from_slice(&std::fs::read(d.join("m.json")).unwrap()).unwrap();
    let orig: iommufuzz::ScenarioFile = serde_json::from_slice(&before).unwrap();
    assert!(
        f.decisions.len() < orig.decisions.len() / 2,
        "{:?}",
        f.decisions
    );
    assert!(f.decisions.iter().any(|l| l == "fault:ite dev0"));
}

#[test]
fn triage_groups_duplicates_and_names_the_smallest_file() {
    let d = tmp("test", "triage");
    let m = tmp("test", "triage-min");
    let crashes = minimized_crashes(&m);
    // Two copies of one linux-5.8 bug: the scenario file and its minimized raw form, padded
    // with an unused decision byte so the sizes differ.
    let (raw, _) = crashes
        .iter()
        .find(|(p, _)| p.to_string_lossy().contains("removed-device"))
        .unwrap();
    let json = root().join("crashes/removed-device-retry-80a9b50c0b9e/scenario.json");
    std::fs::copy(&json, d.join("a.json")).unwrap();
    std::fs::copy(&json, d.join("b.json")).unwrap();
    std::fs::copy(raw, d.join("c.raw")).unwrap();
    std::fs::write(d.join("notes.md"), "not a reproducer").unwrap();
    let o = bin(&["triage", d.to_str().unwrap(), "--variant", "linux-5.8"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0]
            .trim_start()
            .starts_with("3  linux-5.8 hard-lockup:"),
        "{out}"
    );
    assert!(rows[0].contains("c.raw"), "{out}");
    assert!(out.contains("1 distinct bugs in 3 crashing files"), "{out}");
}

#[test]
fn triage_tells_bugs_apart() {
    let o = bin(&["triage", "crashes"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    // One line per reproducer of either model: the known bugs and the findings are all
    // distinct. The two linux-5.8 device-retry ones share class:function:cause but not what
    // sets them off (surprise removal, link down).
    let n = std::fs::read_dir(root().join("crashes"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("scenario.json").is_file())
        .count();
    assert!(
        out.contains(&format!("{n} distinct bugs in {n} crashing files")),
        "{out}"
    );
    assert!(
        out.contains("@env:remove dev#") && out.contains("@env:link-down dev#"),
        "{out}"
    );
    assert!(
        out.contains("feng-v1 hard-lockup:qi_submit_sync:ite-cleared-unmarked @fault:ite dev#"),
        "{out}"
    );
}

/// Every command that reads a file answers bad input with one line and exit code 2, and
/// writes nothing.
#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let d = tmp("test", "bad");
    let good =
        std::fs::read_to_string(root().join("crashes/feng-v1-eagain-race/scenario.json")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated.json", good.as_bytes()[..good.len() / 2].to_vec()),
        ("oversized", vec![7u8; (1 << 20) + 1]),
        (
            "foreign.json",
            br#"{"name": "left-pad", "version": "1.0.0"}"#.to_vec(),
        ),
        (
            "other-model.json",
            good.replace("\"vtd\"", "\"smmuv3\"").into_bytes(),
        ),
    ];
    let out = d.join("out");
    for (name, bytes) in &cases {
        let f = d.join(name);
        std::fs::write(&f, bytes).unwrap();
        let fs = f.to_str().unwrap();
        let os = out.to_str().unwrap();
        let only = tmp("test", &format!("dir-{name}"));
        std::fs::copy(&f, only.join(name)).unwrap();
        let runs: Vec<Vec<&str>> = vec![
            vec!["replay", fs],
            vec!["replay", fs, "--json-out", os],
            vec!["convert", fs, "--out", os],
            vec!["minimize", fs, "--out", os],
            vec!["triage", only.to_str().unwrap()],
        ];
        for args in runs {
            let o = bin(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert!(o.stdout.is_empty(), "{args:?}");
        }
        assert!(!out.exists() && !d.join("out.json").exists() && !d.join("out.raw").exists());
    }
    // Other usage errors of the new commands.
    for args in [
        vec!["triage", "Cargo.toml"],
        vec!["triage", "no-such-dir"],
        vec!["minimize", "no-such-file"],
        vec!["corpus", "--out", "Cargo.toml"],
        vec!["ttb", "--crashes", "no-such-dir"],
        vec!["ttb", "--trials", "0"],
        vec![
            "replay",
            "corpus/vtd/fault-ite",
            "--any",
            "--variant",
            "linux-7.0",
        ],
    ] {
        let o = bin(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
    // A raw file that passes has nothing to minimize.
    let o = bin(&[
        "minimize",
        "corpus/vtd/op-flush-iotlb",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!d.join("out.json").exists());
}
