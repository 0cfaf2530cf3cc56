//! Regression over crashes/: every known bug fails on its buggy variants with the expected class
//! and passes on the fixed ones.

use iommufuzz::cli::regress::check_dir;
use std::path::Path;

#[test]
fn every_reproducer_behaves_as_its_expectation_file_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("crashes/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("expect.json").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 7,
        "known bugs missing from crashes/: {dirs:?}"
    );
    let mut checked = 0;
    for d in &dirs {
        for o in check_dir(d).unwrap_or_else(|e| panic!("{e}")) {
            assert!(
                o.ok(),
                "{} on {}: expected {}, got {}",
                o.bug,
                o.variant,
                o.want,
                o.got
            );
            checked += 1;
        }
    }
    // A finding (its expectation says "finding: ...") may have no fixed variant yet.
    let is_finding = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("expect.json")).is_ok_and(|t| t.contains("\"finding"))
    };
    for d in dirs.iter().filter(|d| !is_finding(d)) {
        let outcomes = check_dir(d).expect("checked above");
        let fails = outcomes.iter().filter(|o| o.want != "pass").count();
        assert!(
            fails >= 1 && fails < outcomes.len(),
            "{}: a known bug needs a failing and a fixed variant",
            d.display()
        );
    }
    assert!(checked >= dirs.len(), "every reproducer is checked");
}
