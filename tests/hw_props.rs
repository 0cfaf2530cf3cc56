//! Property tests of the VT-d queue hardware: random descriptor rings and random legal action
//! sequences; the hardware's own invariants and the spec's ordering rules hold at every step.

use iommufuzz::vtd::hw::{fsts, Desc, DescType, Effect, Iq, Phase};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const TYPES: [DescType; 7] = [
    DescType::Cc,
    DescType::Iotlb,
    DescType::DevTlb,
    DescType::Iec,
    DescType::Wait,
    DescType::Piotlb,
    DescType::Pc,
];

fn ring(rng: &mut StdRng, q: &mut Iq, n: u16) {
    for s in 0..n {
        let ty = TYPES[rng.random_range(0..TYPES.len())];
        q.ring[s as usize] = Desc {
            ty,
            dev: rng.random_range(0..2),
            status: s,
            sw: ty == DescType::Wait,
            ..Desc::EMPTY
        };
    }
    q.iqt = n % q.len;
}

/// One random legal action; returns what it did.
fn step(rng: &mut StdRng, q: &mut Iq) -> Option<Effect> {
    let n = q.ninflight as usize;
    let mut choices: Vec<u8> = Vec::new();
    if q.can_fetch() {
        choices.push(0);
    }
    if (0..n).any(|i| q.may_execute(i)) {
        choices.push(1);
    }
    if q.inflight()
        .iter()
        .any(|f| matches!(f.phase, Phase::Sent { .. }))
    {
        choices.push(2);
        choices.push(3);
    }
    let c = *choices.get(rng.random_range(0..choices.len().max(1)))?;
    let sent: Vec<usize> = (0..n)
        .filter(|&i| matches!(q.inflight[i].phase, Phase::Sent { .. }))
        .collect();
    Some(match c {
        0 => q.fetch(),
        1 => {
            let ready: Vec<usize> = (0..n).filter(|&i| q.may_execute(i)).collect();
            q.execute(ready[rng.random_range(0..ready.len())])
        }
        2 => q.ats_answer(sent[rng.random_range(0..sent.len())]),
        _ => q.ite(sent[rng.random_range(0..sent.len())]),
    })
}

#[test]
fn ordering_rules_and_invariants_hold_on_random_runs() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut writes = 0;
    let mut ites = 0;
    for _ in 0..2000 {
        let mut q = Iq::new(16, 2, 1000);
        let n = rng.random_range(1..16);
        ring(&mut rng, &mut q, n);
        let mut completed = [false; 16];
        let mut fetched: Vec<u16> = Vec::new();
        for _ in 0..200 {
            if q.fsts & fsts::ITE != 0 && rng.random_range(0..4) == 0 {
                q.write_fsts(fsts::ITE);
            }
            let Some(e) = step(&mut rng, &mut q) else {
                break;
            };
            match e {
                Effect::Fetched(s, _) => fetched.push(s),
                Effect::Executed(f) | Effect::AtsDone(f) => completed[f.slot as usize] = true,
                Effect::StatusWrite(f) => {
                    writes += 1;
                    assert!(
                        fetched.contains(&f.slot),
                        "a wait completes only once fetched"
                    );
                    assert!(
                        q.inflight().iter().all(|x| x.slot != f.slot),
                        "a completed wait leaves the engine"
                    );
                    completed[f.slot as usize] = true;
                }
                Effect::Ite { .. } => {
                    ites += 1;
                    assert!(
                        q.inflight().iter().all(|x| x.desc.ty != DescType::Wait),
                        "ITE drops every pending wait"
                    );
                    assert!(!q.can_fetch(), "no fetch while ITE is set");
                }
                _ => {}
            }
            assert_eq!(q.check(), Ok(()));
            assert!(q.iqh < q.len && q.iqt < q.len);
        }
    }
    assert!(
        writes > 1000 && ites > 100,
        "the random runs reach completions ({writes}) and ITEs ({ites})"
    );
}

#[test]
fn a_wait_never_completes_ahead_of_an_unfinished_predecessor() {
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..2000 {
        let mut q = Iq::new(16, 2, 1000);
        let n = rng.random_range(2..16);
        ring(&mut rng, &mut q, n);
        for _ in 0..200 {
            let before: Vec<_> = q.inflight().to_vec();
            let Some(e) = step(&mut rng, &mut q) else {
                break;
            };
            if let Effect::StatusWrite(f) = e {
                let pos = before
                    .iter()
                    .position(|x| x.slot == f.slot)
                    .expect("was in flight");
                assert!(
                    before[..pos].iter().all(|x| x.phase == Phase::Done),
                    "wait completed early: {before:?}"
                );
            }
        }
    }
}
