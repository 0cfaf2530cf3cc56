//! Determinism: the same input gives the same trace, byte for byte; raw input to JSON scenario
//! to replay by labels gives the same verdict and the same trace.

use iommufuzz::vtd::scenario::ScenarioFile;
use iommufuzz::vtd::variants::{by_name, VARIANTS};
use iommufuzz::{decode, Runner, Source};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

fn inputs(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(1..300);
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            v
        })
        .collect()
}

#[test]
fn same_input_same_trace_with_reused_and_fresh_runners() {
    let mut reused = Runner::default();
    for (i, data) in inputs(300, 7).iter().enumerate() {
        let v = &VARIANTS[i % VARIANTS.len()];
        let sc = decode(data);
        let a = reused.run(&sc, v, Source::Bytes(&sc.decisions));
        let b = reused.run(&sc, v, Source::Bytes(&sc.decisions));
        let c = Runner::default().run(&sc, v, Source::Bytes(&sc.decisions));
        assert_eq!(a.trace_hash, b.trace_hash, "input {i} on {}", v.name);
        assert_eq!(
            a.trace_hash, c.trace_hash,
            "input {i} on {}: buffer reuse changed the run",
            v.name
        );
        assert_eq!(a.violation, c.violation);
        assert_eq!(a.steps, c.steps);
    }
}

#[test]
fn raw_to_json_to_replay_gives_the_same_verdict_and_trace() {
    let mut r = Runner::default();
    let mut violations = 0;
    for (i, data) in inputs(300, 11).iter().enumerate() {
        let v = &VARIANTS[i % VARIANTS.len()];
        let sc = decode(data);
        let raw = r.run(&sc, v, Source::Bytes(&sc.decisions));
        violations += usize::from(raw.violation.is_some());
        let text = serde_json::to_string(&r.to_file(&sc, v)).expect("serialises");
        let f: ScenarioFile = serde_json::from_str(&text).expect("parses back");
        assert_eq!(f.scenario, ScenarioFile { ..f.clone() }.scenario);
        let var = by_name(&f.variant).expect("variant recorded");
        let log = f.steps().expect("labels parse");
        let rep = r.run(&f.scenario, var, Source::Replay(log, f.heal_at));
        assert_eq!(raw.violation, rep.violation, "input {i} on {}", v.name);
        assert_eq!(raw.trace_hash, rep.trace_hash, "input {i} on {}", v.name);
    }
    assert!(
        violations > 10,
        "the sample should exercise violating runs too ({violations})"
    );
}

/// Search loops run untraced: the run itself (verdict, suppressed findings, steps, virtual
/// time, decision log) must be exactly the traced run, only the trace is left empty.
#[test]
fn untraced_runs_take_the_same_course_as_traced_ones() {
    let mut traced = Runner::default();
    let mut untraced = Runner::default();
    untraced.set_tracing(false);
    let (mut violations, mut recorded) = (0, 0);
    for (i, data) in inputs(300, 13).iter().enumerate() {
        let v = &VARIANTS[i % VARIANTS.len()];
        let sc = decode(data);
        let a = traced.run(&sc, v, Source::Bytes(&sc.decisions));
        let b = untraced.run(&sc, v, Source::Bytes(&sc.decisions));
        violations += usize::from(a.violation.is_some());
        assert_eq!(a.violation, b.violation, "input {i} on {}", v.name);
        assert_eq!(a.suppressed, b.suppressed, "input {i} on {}", v.name);
        assert_eq!((a.steps, a.end_time), (b.steps, b.end_time));
        assert_eq!(traced.decisions(), untraced.decisions());
        recorded += usize::from(!traced.world().trace.entries.is_empty());
        assert!(
            untraced.world().trace.entries.is_empty(),
            "nothing recorded"
        );
    }
    assert!(
        violations > 10,
        "violating runs are compared too ({violations})"
    );
    assert!(recorded > 200, "traced runs record events ({recorded})");
}
