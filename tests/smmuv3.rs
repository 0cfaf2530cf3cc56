//! SMMUv3 model: regression over crashes/, determinism, and no false alarms on a healthy
//! workload.

use iommufuzz::cli::regress::check_dir;
use iommufuzz::smmuv3::ops::{Client, Config, Op, Program};
use iommufuzz::smmuv3::scenario::{bench_inputs, decode, Runner, Scenario, Source};
use iommufuzz::smmuv3::variants::{self, VARIANTS};
use std::path::Path;

#[test]
fn every_smmuv3_reproducer_meets_its_expectation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("crashes/ exists") {
        let d = e.expect("readable entry").path();
        let is_smmu = d
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("smmuv3-"));
        if !is_smmu {
            continue;
        }
        for o in check_dir(&d).expect("reproducer loads") {
            assert!(
                o.ok(),
                "{} on {}: want {}, got {}",
                o.bug,
                o.variant,
                o.want,
                o.got
            );
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} smmuv3 expectations checked");
}

#[test]
fn same_input_same_trace() {
    let inputs = bench_inputs(16);
    for v in VARIANTS {
        let mut a = Runner::default();
        let mut b = Runner::default();
        for sc in &inputs {
            let x = a.run(sc, v, Source::Bytes(&sc.decisions));
            let y = b.run(sc, v, Source::Bytes(&sc.decisions));
            let z = a.run(sc, v, Source::Bytes(&sc.decisions));
            assert_eq!(x.trace_hash, y.trace_hash, "{}", v.name);
            assert_eq!(x.trace_hash, z.trace_hash, "runner reuse changes the trace");
            assert_eq!(x.steps, y.steps);
        }
    }
    // Raw bytes decode the same way every time.
    let raw: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
    assert_eq!(decode(&raw), decode(&raw));
}

#[test]
fn healthy_workload_raises_no_violation_on_upstream() {
    // No faults, answering endpoints, no reboot: whatever the schedule, every call returns 0
    // and every oracle stays quiet.
    let mut sc: Scenario = bench_inputs(1).remove(0);
    sc.faults.clear();
    sc.cpus.push(Program {
        ops: vec![Op::Unmap { dev: 1, pages: 70 }],
    });
    sc.config = Config {
        range_inv: false,
        clients: vec![
            Client {
                ats: true,
                sva: true,
                ..Client::default()
            },
            Client {
                ats: true,
                ..Client::default()
            },
        ],
        ..Config::default()
    };
    let mut r = Runner::default();
    for seed in 0..300u32 {
        let d: Vec<u8> = (0..200u32)
            .map(|i| ((i + 7) * (seed + 13) % 253) as u8)
            .collect();
        let v = r.run(&sc, variants::newest(), Source::Bytes(&d));
        assert!(v.violation.is_none(), "seed {seed}: {:?}", v.violation);
    }
}

#[test]
fn shutdown_without_submitters_reboots_quickly_everywhere() {
    let sc = Scenario {
        config: Config::default(),
        cpus: vec![
            Program {
                ops: vec![Op::Reboot],
            },
            Program::default(),
        ],
        faults: vec![],
        env: vec![],
        decisions: vec![],
    };
    for v in VARIANTS {
        let mut r = Runner::default();
        let x = r.run(&sc, v, Source::Bytes(&[]));
        assert!(x.violation.is_none(), "{}: {:?}", v.name, x.violation);
        assert!(r.world().reboot.done, "{} reached machine_restart", v.name);
        assert_eq!(r.world().hw.cr0, 0, "{} disabled the SMMU", v.name);
    }
}

fn one_unmap(fault: iommufuzz::smmuv3::ops::Fault) -> Scenario {
    let mut sc = unmap_on_cpu0(fault);
    sc.cpus.swap(0, 1);
    sc
}

/// cpu0 unmaps, cpu1 idles: the GERROR interrupt is routed to the submitter itself.
fn unmap_on_cpu0(fault: iommufuzz::smmuv3::ops::Fault) -> Scenario {
    Scenario {
        config: Config {
            clients: vec![Client::default()],
            ..Config::default()
        },
        cpus: vec![
            Program {
                ops: vec![Op::Unmap { dev: 0, pages: 2 }],
            },
            Program::default(),
        ],
        faults: vec![fault],
        env: vec![],
        decisions: vec![],
    }
}

fn replay(sc: &Scenario, labels: &[&str]) -> (iommufuzz::smmuv3::scenario::Verdict, Runner) {
    use iommufuzz::smmuv3::world::parse_step;
    let log: Vec<_> = labels
        .iter()
        .map(|s| parse_step(s).expect("label"))
        .collect();
    let n = log.len();
    let mut r = Runner::default();
    let v = r.run(sc, variants::newest(), Source::Replay(log, n));
    (v, r)
}

#[test]
fn service_failure_mode_disables_the_smmu_and_the_sync_times_out() {
    use iommufuzz::smmuv3::ops::Fault;
    let sc = one_unmap(Fault::Sfm);
    let (v, r) = replay(
        &sc,
        &["cpu1"; 12]
            .iter()
            .copied()
            .chain(["fault:sfm"])
            .collect::<Vec<_>>(),
    );
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let w = r.world();
    assert_eq!(w.hw.cr0, 0, "the GERROR handler disabled the SMMU");
    assert!(w.sync_timeouts >= 1, "the CMD_SYNC behind SFM timed out");
    assert!(v.end_time >= iommufuzz::sim::clock::SEC);
}

/// Spec B.6: the CPU the GERROR interrupt is routed to spins on its own blocked CMD_SYNC with
/// interrupts off, so the handler that would unblock it waits for its 1 s timeout, although
/// cpu1 idles with interrupts on.
#[test]
fn a_gerror_routed_to_the_spinning_submitter_waits_for_its_timeout() {
    use iommufuzz::smmuv3::ops::Fault;
    use iommufuzz::smmuv3::world::Ev;
    let sc = unmap_on_cpu0(Fault::Abt);
    let labels: Vec<&str> = ["cpu0"; 12].iter().copied().chain(["fault:abt"]).collect();
    let (v, r) = replay(&sc, &labels);
    let w = r.world();
    assert!(
        w.sync_timeouts >= 1,
        "the CMD_SYNC timed out first: {:?}",
        v.violation
    );
    let at = |f: fn(&Ev) -> bool| w.trace.entries.iter().position(|e| f(&e.ev));
    let timeout = at(|e| matches!(e, Ev::SyncTimeout { .. })).expect("a timeout");
    let handled = at(|e| matches!(e, Ev::SkipErr { .. })).expect("the handler ran");
    assert!(timeout < handled, "the handler ran only after the timeout");
    assert!(v.end_time >= iommufuzz::sim::clock::SEC);
}

#[test]
fn fetch_abort_is_retried_after_the_acknowledgement() {
    use iommufuzz::smmuv3::hw::cerror;
    use iommufuzz::smmuv3::ops::Fault;
    use iommufuzz::smmuv3::world::Ev;
    let sc = one_unmap(Fault::Abt);
    let labels: Vec<&str> = ["cpu1"; 12].iter().copied().chain(["fault:abt"]).collect();
    let (v, r) = replay(&sc, &labels);
    assert!(
        v.violation.is_none(),
        "the refetch runs the command: {:?}",
        v.violation
    );
    let w = r.world();
    let saw_abt = w
        .trace
        .entries
        .iter()
        .any(|e| matches!(e.ev, Ev::SkipErr { code, .. } if code == cerror::ABT));
    assert!(saw_abt, "skip_err saw CERROR_ABT");
    assert_eq!(w.sync_timeouts, 0);
    assert_eq!(w.hw.cons, w.hw.prod, "everything consumed after the retry");
}

#[test]
fn raw_inputs_run_to_an_end_on_every_variant() {
    use iommufuzz::smmuv3::scenario::run_raw;
    let mut r = Runner::default();
    for seed in 0..200u32 {
        let raw: Vec<u8> = (0..160u32)
            .map(|i| ((i * 131 + seed * 7919) % 256) as u8)
            .collect();
        for v in VARIANTS {
            let x = run_raw(&mut r, v, &raw);
            assert!(x.steps > 0 && x.steps <= r.limits.max_steps, "{}", v.name);
        }
    }
}

/// Between an owner's PROD write and its owner_prod release the SMMU consumes, another CPU short
/// of space refreshes llq.cons, and the next owner reserves past owner_prod + len: legal in the
/// kernel (arm_smmu_cmdq_issue_cmdlist steps 4d/4e), so no queue invariant may fire on it.
#[test]
fn owner_prod_may_lag_llq_prod_by_more_than_a_queue() {
    use iommufuzz::cli::input::load;
    use iommufuzz::smmuv3::model::Smmuv3Model;
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/triage/smmuv3-owner-prod-lags-past-a-queue.json");
    let l = load::<Smmuv3Model>(&f).expect("loads");
    for name in ["linux-7.0", "linux-6.12"] {
        let v = variants::by_name(name).expect("variant");
        let mut r = Runner::default();
        let verdict = r.run(&l.scenario, v, l.source());
        assert!(
            verdict.violation.is_none(),
            "{name}: {:?}",
            verdict.violation
        );
    }
}

/// `arm_smmu_mm_release()` rewrites each bound master's CD to the quiet SVA CD. From v6.10 the
/// hitless entry writer changes qword 0, syncs, clears TTB0 in qword 1 and syncs again: two
/// CFGI_CDs per master. The older `arm_smmu_write_ctx_desc()` wrote once.
#[test]
fn the_sva_release_syncs_each_cd_twice_with_the_hitless_writer_and_once_in_all_before() {
    use iommufuzz::smmuv3::hw::Opcode;
    use iommufuzz::smmuv3::world::Ev;
    let sva = Client {
        ats: false,
        sva: true,
        ..Client::default()
    };
    let sc = Scenario {
        config: Config {
            clients: vec![sva, sva],
            ..Config::default()
        },
        cpus: vec![Program {
            ops: vec![Op::MmRelease],
        }],
        faults: vec![],
        env: vec![],
        decisions: vec![],
    };
    let mut r = Runner::default();
    for (name, per_master) in [("linux-7.0", 2), ("linux-6.12", 2), ("linux-6.4", 1)] {
        let v = r.run(
            &sc,
            variants::by_name(name).expect("variant"),
            Source::Bytes(&[]),
        );
        assert!(v.violation.is_none(), "{name}: {:?}", v.violation);
        let w = r.world();
        let cds = w
            .trace
            .entries
            .iter()
            .filter(|e| matches!(e.ev, Ev::Exec(_, Opcode::CfgiCd)))
            .count();
        assert_eq!(cds, 2 * per_master, "{name}: two masters");
        // The CD syncs: one per write with the hitless writer; before it, the gathered
        // CFGI_CDs of the whole domain go out with one SYNC.
        let syncs = w
            .trace
            .entries
            .iter()
            .take_while(|e| !matches!(e.ev, Ev::Exec(_, Opcode::TlbiNhAsid)))
            .filter(|e| matches!(e.ev, Ev::SyncDone { .. }))
            .count();
        assert_eq!(syncs, if per_master == 2 { 4 } else { 1 }, "{name}");
    }
}

/// SVA came to the SMMUv3 driver in v5.11, PCI ATS in v5.2 (9ce27afc0830) and range TLBIs in
/// v5.7: on the pre-2019 spinlock kernels no mm is bound, so an SVA invalidation or mm release
/// sends nothing, and an unmap of an ATS-capable client sends per-page TLBIs but no ATC_INV.
/// From linux-6.4 on all of it goes out.
#[test]
fn sva_ats_and_range_tlbis_exist_only_on_kernels_that_have_them() {
    use iommufuzz::smmuv3::hw::Opcode;
    use iommufuzz::smmuv3::world::Ev;
    let prog = |ops: Vec<Op>| Scenario::of(Config::default(), vec![ops], vec![], vec![]);
    let sva = prog(vec![Op::SvaInvalidate { pages: 2 }, Op::MmRelease]);
    let unmap = prog(vec![Op::Unmap { dev: 0, pages: 2 }]);
    assert!(unmap.config.clients[0].ats, "the client could use ATS");
    let mut r = Runner::default();
    for (name, new) in [
        ("msi-seq-2018", false),
        ("msi-seq-2018-fix", false),
        ("linux-6.4", true),
        ("linux-7.0", true),
    ] {
        let var = variants::by_name(name).expect("variant");
        assert_eq!((var.sva, var.ats), (new, new), "{name}");
        // (scenario, TLBIs sent, ATC_INVs sent)
        for (sc, tlbi, atc) in [(&sva, new, new), (&unmap, true, new)] {
            let v = r.run(sc, var, Source::Bytes(&[]));
            assert!(v.violation.is_none(), "{name}: {:?}", v.violation);
            let sent = |f: &dyn Fn(&Ev) -> bool| r.world().trace.entries.iter().any(|e| f(&e.ev));
            let tlbis = sent(&|e| matches!(e, Ev::Exec(_, Opcode::TlbiNhVa | Opcode::TlbiNhAsid)));
            assert_eq!(tlbis, tlbi, "{name}: {:?}", sc.cpus[0].ops);
            // An executed ATC_INV is sent to its endpoint.
            let atcs = sent(&|e| matches!(e, Ev::AtcSent(..)));
            assert_eq!(atcs, atc, "{name}: {:?}", sc.cpus[0].ops);
        }
        // Range TLBIs came in v5.7 (6a481a95d4c1): before it the two pages take one TLBI each
        // on an SMMU that could take one range.
        r.run(&unmap, var, Source::Bytes(&[]));
        assert!(unmap.config.range_inv);
        let w = r.world();
        let vas = w.trace.entries.iter();
        let vas = vas.filter(|e| matches!(e.ev, Ev::Exec(_, Opcode::TlbiNhVa)));
        assert_eq!(vas.count(), if new { 1 } else { 2 }, "{name}");
    }
}

/// Runs a reproducer in crashes/ on the newest variant, traced.
fn run_crash(bug: &str) -> (iommufuzz::smmuv3::scenario::Verdict, Runner) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crashes")
        .join(bug)
        .join("scenario.json");
    let l =
        iommufuzz::cli::input::load::<iommufuzz::smmuv3::model::Smmuv3Model>(&path).expect("loads");
    let mut r = Runner::default();
    let v = r.run(&l.scenario, variants::newest(), l.source());
    (v, r)
}

/// The MSI wait backs off as `queue_poll()` without WFE does: nine spins (each a WFE until the
/// 100 us event stream) then `udelay()`, doubling from 1 us. A CMD_SYNC the SMMU never
/// completes is given up at 1.0677 s: 20 delays of 1.048575 s in all, plus the ticks between
/// them. And a completion that lands during a delay is seen only when it ends: the ATC timeout
/// retry completes the SYNC at 500 ms, inside the 262 ms delay that began at 280 ms.
#[test]
fn the_msi_wait_backs_off_as_queue_poll_does() {
    use iommufuzz::sim::clock::{MS, US};
    use iommufuzz::smmuv3::world::Ev;
    let sc = one_unmap(iommufuzz::smmuv3::ops::Fault::Sfm);
    let labels: Vec<&str> = ["cpu1"; 12].iter().copied().chain(["fault:sfm"]).collect();
    let (_, r) = replay(&sc, &labels);
    let w = r.world();
    let at = |f: &dyn Fn(&Ev) -> bool| w.trace.entries.iter().find(|e| f(&e.ev)).map(|e| e.t);
    let began = at(&|e| matches!(e, Ev::SyncWait(_))).expect("waits");
    let gave_up = at(&|e| matches!(e, Ev::SyncTimeout { .. })).expect("times out");
    let after = gave_up - began;
    assert!(
        (1_067_600 * US..1_067_800 * US).contains(&after),
        "timed out {after} ns after the wait began"
    );
    let (v, r) = run_crash("smmuv3-atc-timeout-false-success");
    assert!(v.violation.is_some());
    let w = r.world();
    let e = &w.trace.entries;
    let done = e
        .iter()
        .find(|x| matches!(x.ev, Ev::SyncDone { .. }) && x.t > 400 * MS);
    let done = done.expect("the retried SYNC completes").t;
    let seen = e.iter().find(|x| x.t > done && matches!(x.ev, Ev::Ret(0)));
    let seen = seen.expect("the waiter returns").t;
    assert!(
        done < 501 * MS && seen > 542 * MS && seen < 543 * MS,
        "done {done}, seen {seen}"
    );
}
