//! Inputs that once made the model panic replay to a verdict, on every variant.

use iommufuzz::vtd::variants::VARIANTS;
use iommufuzz::{run_raw, Runner};
use std::path::Path;

#[test]
fn former_harness_panics_now_replay_to_a_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/harness");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("data dir") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "raw") {
            continue;
        }
        let data = std::fs::read(&p).expect("readable");
        for v in VARIANTS {
            let mut r = Runner::default();
            let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_raw(&mut r, v, &data)
            }));
            let verdict =
                verdict.unwrap_or_else(|_| panic!("{} panics on {}", p.display(), v.name));
            assert!(verdict.steps > 0, "{} ran on {}", p.display(), v.name);
        }
        n += 1;
    }
    assert_eq!(n, 2, "both recorded inputs are replayed");
}
