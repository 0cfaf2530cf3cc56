//! The campaign tooling for the SMMUv3 model end to end: the checked-in `smmuv3` seed corpus
//! and dictionary, the `smmuv3` fuzz-target entry point, triage, minimize and ttb of the
//! crashes/smmuv3-* bugs through the real binary, the SMMUv3 suppressions file, and bad input.

mod common;

use common::{bin, read_dir, root, stdout, tmp};
use iommufuzz::cli::corpus;
use iommufuzz::fuzz::SmmuTarget;
use iommufuzz::smmuv3::model::Smmuv3Model;
use iommufuzz::smmuv3::scenario::{decode, Runner, ScenarioFile, Source};
use iommufuzz::smmuv3::variants;
use std::collections::BTreeSet;
use std::process::Output;

/// The crashes/smmuv3-* bug directories.
fn smmu_bugs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("crashes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("smmuv3-"))
        .collect();
    v.sort();
    assert!(v.len() >= 9, "{v:?}");
    v
}

fn scenario_file(bug: &str) -> ScenarioFile {
    let p = root().join("crashes").join(bug).join("scenario.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The signature `iommufuzz replay` prints on its first line, if it reports a violation.
fn replay_sig(o: &Output) -> Option<String> {
    let line = stdout(o).lines().next()?.to_string();
    let s = line.split("(signature ").nth(1)?;
    Some(s.trim_end_matches(')').to_string())
}

#[test]
fn checked_in_smmuv3_corpus_and_dict_are_what_the_generator_writes() {
    let mut r = Runner::default();
    let mut want = corpus::build(&mut r, variants::newest(), false);
    want.sort();
    assert_eq!(
        read_dir(&root().join("corpus/smmuv3")),
        want,
        "corpus/smmuv3 is stale: run `iommufuzz corpus --model smmuv3 --out corpus/smmuv3 --dict fuzz/smmuv3.dict`"
    );
    let dict = std::fs::read_to_string(root().join("fuzz/smmuv3.dict")).unwrap();
    assert_eq!(
        dict,
        corpus::dict::<Smmuv3Model>(),
        "fuzz/smmuv3.dict is stale"
    );
    let opts = std::fs::read_to_string(root().join("fuzz/smmuv3.options")).unwrap();
    assert!(opts.contains("dict = smmuv3.dict"), "{opts}");
}

#[test]
fn smmuv3_corpus_reaches_every_operation_fault_and_event_and_never_crashes() {
    // Through the fuzz target's own entry point, with no suppressions: a crashing seed would
    // stop libFuzzer before it starts.
    let mut t = SmmuTarget::configure(None, None, None).unwrap();
    let mut r = Runner::default();
    let mut seen = BTreeSet::new();
    for (name, bytes) in read_dir(&root().join("corpus/smmuv3")) {
        assert!(t.check(&bytes).is_none(), "seed {name} crashes");
        let sc = decode(&bytes);
        for o in sc.cpus.iter().flat_map(|p| &p.ops) {
            seen.insert(
                format!("{o:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        let v = r.run(&sc, variants::newest(), Source::Bytes(&sc.decisions));
        assert!(v.violation.is_none());
        if !sc.config.msipoll {
            seen.insert("cons-poll".into());
        }
        seen.insert(format!("cpus{}", sc.cpus.len()));
        seen.insert(format!("clients{}", sc.config.clients.len()));
        // Faults and events count only when the run really took them.
        let (labels, heal_at) = r.decisions();
        for l in &labels[..heal_at] {
            if l.starts_with("fault:") || l.starts_with("env:") {
                seen.insert(l.split(' ').next().unwrap().to_string());
            }
        }
    }
    let want = [
        "Unmap",
        "SvaInvalidate",
        "MmRelease",
        "Exit",
        "Reboot",
        "fault:ill",
        "fault:abt",
        "fault:sfm",
        "fault:msi-abort",
        "fault:wedge",
        "fault:atc-timeout",
        "env:hang",
        "env:recover",
        "env:reboot",
        "cons-poll",
        "cpus4",
        "clients3",
    ];
    for w in want {
        assert!(seen.contains(w), "corpus misses {w}; has {seen:?}");
    }
}

#[test]
fn triage_names_every_smmuv3_bug_with_its_variant_and_signature() {
    let o = bin(&["triage", "crashes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    for bug in smmu_bugs() {
        let f = scenario_file(&bug);
        let rep = bin(&["replay", &format!("crashes/{bug}/scenario.json")]);
        let sig = replay_sig(&rep).expect("every known bug violates on its own variant");
        let line = text
            .lines()
            .find(|l| l.contains(&format!("crashes/{bug}/scenario.json")))
            .unwrap_or_else(|| panic!("{bug} is nobody's smallest file:\n{text}"));
        assert!(
            line.contains(&format!("smmuv3 {} {sig} @", f.variant)),
            "{line}"
        );
    }
    assert!(text.contains("(0 pass, 0 skipped)"), "{text}");
}

#[test]
fn minimized_smmuv3_reproducers_keep_their_signature_in_replay_triage_and_the_target() {
    let d = tmp("smmu", "min");
    let mut raws = 0;
    for bug in smmu_bugs() {
        let f = scenario_file(&bug);
        let json = format!("crashes/{bug}/scenario.json");
        let want = replay_sig(&bin(&["replay", &json])).unwrap();
        let out = d.join(&bug);
        let o = bin(&["minimize", &json, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert!(stdout(&o).contains(&format!("minimized {want} on smmuv3")));
        let min = out.with_extension("json");
        let got = replay_sig(&bin(&["replay", min.to_str().unwrap()]));
        assert_eq!(got.as_deref(), Some(want.as_str()), "{bug}: minimized JSON");
        let m: ScenarioFile =
            serde_json::from_str(&std::fs::read_to_string(&min).unwrap()).unwrap();
        assert_eq!(m.model, "smmuv3");
        let raw = out.with_extension("raw");
        if !raw.exists() {
            assert!(stdout(&o).contains("no raw form"), "{}", stdout(&o));
            continue;
        }
        raws += 1;
        let o = bin(&[
            "replay",
            raw.to_str().unwrap(),
            "--model",
            "smmuv3",
            "--variant",
            &f.variant,
        ]);
        assert_eq!(replay_sig(&o).as_deref(), Some(want.as_str()), "{bug}: raw");
        // The fuzz target reads the same bytes the same way.
        let bytes = std::fs::read(&raw).unwrap();
        let mut t = SmmuTarget::configure(Some(&f.variant), None, None).unwrap();
        let rep = t.check(&bytes).expect("the raw form crashes the target");
        assert!(rep.contains(&format!("(signature {want})")), "{rep}");
    }
    // Every known bug has a raw form, the reboot ones too (an exit 1 s into the reboot with up
    // to 12 buffers, a client's .shutdown with 6 unmaps): every engine can reach them.
    assert_eq!(raws, smmu_bugs().len(), "bugs without a raw form");
    // Raw files need the model for triage; with it, each is one bug.
    let raw_dir = d.join("raw");
    std::fs::create_dir_all(&raw_dir).unwrap();
    for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
        if e.extension().is_some_and(|x| x == "raw") {
            std::fs::copy(&e, raw_dir.join(e.file_name().unwrap())).unwrap();
        }
    }
    let o = bin(&["triage", raw_dir.to_str().unwrap(), "--model", "smmuv3"]);
    assert_eq!(o.status.code(), Some(1));
    // Raw files carry no variant: on linux-7.0 the upstream findings reproduce.
    assert!(stdout(&o).contains("smmuv3 linux-7.0 false-success:__arm_smmu_tlb_inv_range"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ttb_measures_smmuv3_bugs_with_the_builtin_engine() {
    let ts = iommufuzz::cli::ttb::targets(&root().join("crashes")).unwrap();
    for bug in smmu_bugs() {
        assert!(
            ts.iter()
                .any(|t| t.variant.model() == "smmuv3" && t.bugs.contains(&bug)),
            "{bug} is not a ttb target"
        );
    }
    let o = bin(&[
        "ttb",
        "--only",
        "smmuv3-skip-err-range",
        "--trials",
        "1",
        "--budget",
        "30",
        "--engines",
        "builtin",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    let row = text
        .lines()
        .find(|l| l.contains("smmuv3-skip-err-range-eb6c97647be2"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("linux-6.4") && row.ends_with("1/1"), "{row}");
}

#[test]
fn suppressions_file_names_each_upstream_finding_and_covers_it() {
    let path = root().join("suppressions/smmuv3-upstream-known.supp");
    let text = std::fs::read_to_string(&path).unwrap();
    iommufuzz::Suppressions::parse(&text).unwrap();
    let upstream = variants::newest().name;
    for bug in smmu_bugs() {
        let json = format!("crashes/{bug}/scenario.json");
        let plain = bin(&["replay", &json, "--variant", upstream]);
        if plain.status.code() != Some(1) {
            continue;
        }
        // A finding on upstream: named in a comment, and its signature no longer stops a run.
        assert!(
            text.contains(&format!("# crashes/{bug}:")),
            "{bug} has no line"
        );
        let sig = replay_sig(&plain).unwrap();
        let supp = bin(&[
            "replay",
            &json,
            "--variant",
            upstream,
            "--suppressions",
            path.to_str().unwrap(),
        ]);
        assert_ne!(replay_sig(&supp), Some(sig.clone()), "{bug}: {sig}");
        assert!(
            stdout(&supp).contains(&format!("suppressed: {sig}")),
            "{bug}"
        );
    }
}

#[test]
fn bad_input_to_the_smmuv3_entries_is_one_line_exit_2_and_writes_nothing() {
    let d = tmp("smmu", "bad");
    let dp = |n: &str| d.join(n).to_string_lossy().to_string();
    let empty = d.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let notjson = d.join("broken.json");
    std::fs::write(&notjson, b"{\"model\": \"smmuv3\", \"variant\": ").unwrap();
    let bug = "crashes/smmuv3-skip-err-range-eb6c97647be2/scenario.json";
    macro_rules! args {
        ($($a:expr),* $(,)?) => {
            vec![$(String::from($a)),*]
        };
    }
    let cases: Vec<Vec<String>> = vec![
        args!["corpus", "--model", "smmuv3", "--out", &dp("c1"), "--any"],
        args!["corpus", "--model", "smmu", "--out", &dp("c2")],
        args![
            "corpus",
            "--model",
            "smmuv3",
            "--variant",
            "linux-5.8",
            "--out",
            &dp("c3"),
        ],
        args![
            "corpus",
            "--model",
            "smmuv3",
            "--out",
            &dp("c4"),
            "--dict",
            &dp(""),
        ],
        args![
            "corpus",
            "--model",
            "smmuv3",
            "--out",
            empty.to_str().unwrap(),
        ],
        args![
            "corpus",
            "--model",
            "smmuv3",
            "--out",
            &dp("c5"),
            "--suppressions",
            &dp("nope"),
        ],
        args!["triage", "crashes", "--model", "smmuv3", "--any"],
        args![
            "replay",
            "corpus/smmuv3/cons-poll",
            "--model",
            "smmuv3",
            "--any"
        ],
        args!["replay", bug, "--any"],
        args![
            "check",
            "corpus/smmuv3/cons-poll",
            "--model",
            "smmuv3",
            "--any"
        ],
        args!["triage", "crashes", "--model", "arm"],
        args![
            "triage",
            "crashes",
            "--model",
            "smmuv3",
            "--variant",
            "linux-5.8",
        ],
        args!["triage", &dp("none"), "--model", "smmuv3"],
        args!["minimize", bug, "--any", "--out", &dp("m1")],
        args![
            "minimize",
            bug,
            "--variant",
            "linux-7.0",
            "--out",
            &dp("m2"),
        ],
        args![
            "minimize",
            bug,
            "--variant",
            "linux-5.8",
            "--out",
            &dp("m3"),
        ],
        args![
            "minimize",
            empty.to_str().unwrap(),
            "--model",
            "smmuv3",
            "--out",
            &dp("m4"),
        ],
        args!["minimize", notjson.to_str().unwrap(), "--out", &dp("m5")],
        args![
            "minimize",
            "corpus/smmuv3/op-unmap",
            "--model",
            "smmuv3",
            "--out",
            &dp("m6"),
        ],
        args![
            "minimize",
            "corpus/smmuv3/op-unmap",
            "--model",
            "x",
            "--out",
            &dp("m7"),
        ],
        args![
            "ttb",
            "--only",
            "smmuv3-",
            "--crashes",
            &dp("none"),
            "--engines",
            "builtin",
        ],
        args![
            "ttb",
            "--only",
            "smmuv3-no-such-bug",
            "--engines",
            "builtin",
        ],
        args![
            "replay",
            "corpus/smmuv3/op-unmap",
            "--model",
            "smmuv3",
            "--variant",
            "linux-5.8",
        ],
    ];
    for c in &cases {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let o = bin(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{c:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{c:?}: {err}");
        assert!(o.stdout.is_empty(), "{c:?}: {}", stdout(&o));
    }
    // Nothing was written besides the two inputs made above.
    let mut left: Vec<_> = read_dir(&d).into_iter().map(|(n, _)| n).collect();
    left.sort();
    assert_eq!(left, ["broken.json", "empty"]);
    let _ = std::fs::remove_dir_all(&d);
}
