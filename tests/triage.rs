//! Triage of signatures seen on the upstream variants: the reproducers in tests/data/triage/.
//!
//! - Consequences of recorded findings replay to their exact signature on linux-7.0, and the
//!   suppressions file lists that signature under the comment of the finding they follow from.
//! - Attribution: a report names what the CPU was really waiting for (watchdog classes due at
//!   one sample are filed together; time spent earlier in the same operation counts; what stops
//!   a wait now outranks a timeout it sat through before).
//! - SMMUv3 likewise: the wait for queue space outranks CMD_SYNC timeouts sat through before, a
//!   CPU spinning on a spinlock waits for what holds up the holder, lockups after a slot was
//!   overwritten follow from that, and a step budget spent by livelocked spinners is not blamed
//!   on a CPU asleep until a timer.

use iommufuzz::cli::input;
use iommufuzz::oracle::Suppressions;
use iommufuzz::smmuv3::scenario::Runner as SmmuRunner;
use iommufuzz::smmuv3::variants as smmu_variants;
use iommufuzz::vtd::variants;
use iommufuzz::{Class, Runner, Verdict, Violation};
use std::path::PathBuf;

/// (reproducer, signature on linux-7.0, the crashes/ finding it is a consequence of).
const VTD_VICTIMS: &[(&str, &str, &str)] = &[
    (
        "early-return-iqt-overrun.json",
        "hard-lockup:qi_submit_sync:iqt-overrun",
        "finding-early-return-slot-overwrite",
    ),
    // Two CPUs flush a hung endpoint: one of them is in its first round, the other has
    // restarted already; both are the endless retry. Between two rounds, with no request in
    // flight, its soft-lockup report names the loop too (it used to say `ats-timeout`).
    (
        "hung-retry-first-round-elsewhere.json",
        "watchdog-soft-lockup:qi_submit_sync:ite-retry-hung",
        "finding-hung-device-retry",
    ),
    // Fetching as eagerly as the engine allows (`eager_fetch`): an IQE's early return leaves a
    // device-TLB invalidation to a removed endpoint in flight, and its timeout strikes just after
    // the PRQ drain queued its wait, unfetched yet; the walk misses it and it completes after the
    // drain's own device-TLB invalidation timed out.
    (
        "step1-walk-unfetched-drain-wait.json",
        "false-success:qi_submit_sync:ite-timed-out",
        "finding-step1-walk-unfetched-wait",
    ),
    // An ITE drops the PRQ drain's leading fenced wait (no status write): that is not the
    // drain's own wait, which sits unfetched behind an IQE on its second descriptor.
    (
        "prq-fence-wait-not-dropped.json",
        "hard-lockup:qi_submit_sync:iqe-unrepaired",
        "finding-iqe-in-batch-unrepaired",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads a VT-d reproducer of tests/data/triage.
fn load(file: &str) -> input::Loaded<iommufuzz::vtd::model::VtdModel> {
    input::load(&root().join("tests/data/triage").join(file)).expect("loads")
}

/// `iommufuzz replay --full --variant VARIANT` of a reproducer of tests/data/triage, which must
/// pass: its whole timeline.
fn replay_full(file: &str, variant: &str) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_iommufuzz"))
        .args(["replay", "--full", "--variant", variant])
        .arg(root().join("tests/data/triage").join(file))
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{file} on {variant}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Replays a VT-d reproducer of tests/data/triage on linux-7.0 with `sup` (built-in ones too).
fn replay(file: &str, sup: &str) -> Verdict {
    let l = load(file);
    let mut r = Runner::default();
    let text = format!("{}{sup}", iommufuzz::DEFAULT_SUPPRESSIONS);
    r.sup = Suppressions::parse(&text).expect("suppressions parse");
    r.run(&l.scenario, variants::newest(), l.source())
}

/// The text of suppressions/upstream-known.supp.
fn upstream_supp() -> String {
    std::fs::read_to_string(root().join("suppressions/upstream-known.supp"))
        .expect("suppressions file")
}

/// Every report of a run, the one that stopped it and the suppressed ones.
fn reports(v: &Verdict) -> Vec<&Violation> {
    v.violation.iter().chain(v.suppressed.iter()).collect()
}

/// The suppression lines of `file` that sit under a comment naming `crashes/<finding>`, up to
/// the next comment that names another crashes/ entry or starts the untriaged section.
fn lines_under(file: &str, finding: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(file)).expect("suppressions file");
    let mut inside = false;
    let mut out = Vec::new();
    for l in text.lines() {
        if let Some(c) = l.strip_prefix('#') {
            if c.contains("crashes/") || c.contains("Not yet triaged") {
                inside = c.contains(&format!("crashes/{finding}"));
            }
            continue;
        }
        if inside && !l.trim().is_empty() {
            out.push(l.trim().to_string());
        }
    }
    out
}

/// Checks that `sig` is matched by a suppression line listed under `finding`.
fn listed_under(file: &str, finding: &str, sig: &str) {
    let lines = lines_under(file, finding);
    let sup = Suppressions::parse(&lines.join("\n")).expect("suppressions parse");
    let mut f = sig.splitn(3, ':');
    let v = Violation {
        class: Class::parse(f.next().unwrap()).expect("class"),
        cpu: None,
        func: f.next().unwrap().to_string().into(),
        cause: f.next().unwrap().to_string().into(),
        time: 0,
        msg: String::new(),
    };
    assert!(
        sup.matches(&v),
        "{file}: {sig} is not listed under crashes/{finding} ({lines:?})"
    );
}

/// Replays a consequence of `finding` with the finding's own signatures in `sup`: the run
/// stops on `sig`, which the suppressions file lists under that finding.
fn consequence(file: &str, sup: &str, sig: &str, finding: &str) -> Verdict {
    let v = replay(file, sup);
    let got = v.violation.as_ref().map(|x| x.signature());
    assert_eq!(got.as_deref(), Some(sig), "{file}");
    listed_under("suppressions/upstream-known.supp", finding, sig);
    v
}

#[test]
fn the_unfetched_wait_reproducer_fetches_eagerly() {
    let l = load("step1-walk-unfetched-drain-wait.json");
    assert!(l.scenario.config.eager_fetch, "reached without lazy fetch");
}

#[test]
fn vtd_victims_replay_to_their_signature_and_are_filed_under_their_finding() {
    for (file, sig, finding) in VTD_VICTIMS {
        assert!(root().join("crashes").join(finding).is_dir(), "{finding}");
        let v = replay(file, "");
        let got = v.violation.map(|x| x.signature()).unwrap_or_default();
        assert_eq!(&got, sig, "{file}");
        listed_under("suppressions/upstream-known.supp", finding, sig);
    }
}

/// After -EINVAL the owner frees its slots while the engine still holds both copies of the
/// repaired wait: once that reuse is accepted, their status writes land in a slot another
/// submission owns. Both reports are the early-return finding's.
#[test]
fn early_return_frees_slots_whose_waits_are_still_in_flight() {
    let v = consequence(
        "early-return-misdirected-completion.json",
        "slot-reuse:qi_submit_sync:claim\n",
        "lost-completion:qi_submit_sync:misdirected",
        "finding-early-return-slot-overwrite",
    );
    assert!(
        v.suppressed
            .iter()
            .any(|x| x.signature() == "slot-reuse:qi_submit_sync:claim"),
        "the reuse comes first: {:?}",
        v.suppressed
    );
}

/// The healing budget runs out between two rounds of the hung-endpoint retry, when no request
/// is in flight: the CPU still waiting is in that loop (`ite-retry-hung`), not in one accepted
/// ATS timeout. Found by a 15-minute campaign at run 3.9 million as `ats-timeout`.
#[test]
fn budget_between_two_retry_rounds_names_the_retry_loop() {
    consequence(
        "hung-retry-between-rounds.json",
        "false-success:qi_submit_sync:ite-timed-out\nwatchdog-hard-lockup:*:*\n\
         watchdog-soft-lockup:*:*\nrcu-stall:*:*\n",
        "hard-lockup:qi_check_fault:ite-retry-hung",
        "finding-hung-device-retry",
    );
}

/// Once the next submission wrote over slots the engine had not fetched, IQT lies behind IQH:
/// the ITE walk over [IQT, IQH) misses the wait the ITE dropped and its owner spins with
/// interrupts off. Found by `explore --schedule pct` at run 10.4 million; named `overwritten`,
/// not as a walk bug of its own.
#[test]
fn early_return_overwrite_leaves_the_ite_walk_the_wrong_range() {
    consequence(
        "early-return-overwritten-walk.json",
        "slot-reuse:qi_submit_sync:claim\nfalse-success:qi_submit_sync:not-executed\n",
        "hard-lockup:qi_submit_sync:overwritten",
        "finding-early-return-slot-overwrite",
    );
}

/// The early -EINVAL return also ends in false success: the next submission's wait lands on
/// the slot IQH points to and its doorbell leaves the engine only that wait to run.
#[test]
fn early_return_overrun_completes_a_wait_ahead_of_its_invalidations() {
    consequence(
        "early-return-overrun-false-success.json",
        "*:dmar_disable_qi:drain-timeout\nslot-reuse:qi_submit_sync:claim\n",
        "false-success:qi_submit_sync:not-executed",
        "finding-early-return-slot-overwrite",
    );
}

/// Four CPUs flush two endpoints whose links went down: every device-TLB flush waits out one
/// 60 s ATS timeout and returns, and the last returns after 600 s. A healing budget counted
/// from the phase's start called that a lockup; counted from the latest return, the run passes,
/// and the budget still ends a run whose submissions stop returning.
#[test]
fn healing_budget_counts_from_the_latest_return() {
    let sup = upstream_supp();
    let v = replay("linkdown-timeouts-past-budget.json", &sup);
    assert!(v.violation.is_none(), "{:?}", v.violation);
    assert!(
        v.end_time > 600 * iommufuzz::sim::clock::SEC,
        "ends at {} ns",
        v.end_time
    );
    let l = load("linkdown-timeouts-past-budget.json");
    let mut r = Runner::default();
    r.sup = Suppressions::parse(&format!("{}{sup}", iommufuzz::DEFAULT_SUPPRESSIONS)).unwrap();
    r.limits.heal_budget = 30 * iommufuzz::sim::clock::SEC;
    let short = r.run(&l.scenario, variants::newest(), l.source());
    let x = short
        .violation
        .expect("60 s without a return is past a 30 s budget");
    assert!(x.msg.contains("no submission returning"), "{}", x.msg);
}

/// cpu0 waits out dev0's 60 s ATS timeout with interrupts off; the clock jumps past the
/// hard-lockup and RCU thresholds at once. Both reports belong to that wait, filed at that
/// moment, not to the restart (after an injected ITE) of a later call.
#[test]
fn watchdog_classes_due_at_one_sample_are_filed_with_that_state() {
    let v = replay(
        "ats-wait-then-injected-retry.json",
        "*:*:ite-retry-absent\n",
    );
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let cpu0: Vec<_> = reports(&v)
        .into_iter()
        .filter(|x| x.cpu == Some(0) && x.class != Class::WatchdogSoftLockup)
        .collect();
    assert_eq!(cpu0.len(), 2, "{cpu0:?}");
    assert!(cpu0.iter().all(|x| x.cause == "ats-timeout"), "{cpu0:?}");
    assert_eq!(cpu0[0].time, cpu0[1].time, "{cpu0:?}");
}

/// The soft lockup reported when interrupts come back at the end of a teardown counts from the
/// start of the operation: its 60 s went to an ATS timeout in the first call, not to the last
/// call's restart after an injected ITE.
#[test]
fn soft_lockup_counts_the_whole_operation() {
    let v = replay(
        "ats-wait-earlier-call-soft-due.json",
        "*:*:ite-retry-absent\n",
    );
    assert!(v.violation.is_none(), "{:?}", v.violation);
    assert!(
        reports(&v).iter().all(|x| x.cause != "ite-retry"),
        "{:?}",
        v.suppressed
    );
}

/// cpu1 sat through an ATS timeout, but what keeps it spinning is an IQE nobody repairs.
#[test]
fn what_stops_a_wait_outranks_a_timeout_sat_through_before() {
    let v = replay("iqe-unrepaired-after-ats-wait.json", "");
    let got = v.violation.map(|x| x.signature()).unwrap_or_default();
    assert_eq!(got, "hard-lockup:qi_submit_sync:iqe-unrepaired");
}

/// What the MSI-timeout finding's own signatures are, so that what follows from it shows.
const OVERWRITE_SUP: &str = "slot-reuse:*:claim\nqueue-integrity:invariant:*\n";

/// SMMUv3: (reproducer, suppressions, signature on linux-7.0, the crashes/ finding it follows
/// from).
const SMMUV3_VICTIMS: &[(&str, &str, &str, &str)] = &[
    // SFM disables the SMMU; CMD_SYNCs time out, the MSI-polled ones publish llq.cons past
    // unconsumed entries, and an owner then waits for owner_prod that never comes.
    (
        "smmuv3-overwritten-owner-wait.json",
        OVERWRITE_SUP,
        "hard-lockup:arm_smmu_cmdq_issue_cmdlist:overwritten",
        "smmuv3-msi-timeout-overwrites-unconsumed",
    ),
    // Sixteen CMD_SYNC timeouts after SFM, then the same overwrite: not a timeout of its own.
    (
        "smmuv3-overwritten-sfm-sync-timeouts.json",
        OVERWRITE_SUP,
        "hard-lockup:arm_smmu_cmdq_issue_cmdlist:overwritten",
        "smmuv3-msi-timeout-overwrites-unconsumed",
    ),
    // After SFM, cpu0 (mm release, under the SVA domain's devices_lock) waits for queue space
    // with interrupts off, after a CMD_SYNC timeout of its own; cpu2's SVA invalidation spins
    // on that lock.
    (
        "smmuv3-sfm-sva-devices-lock-no-space.json",
        "",
        "watchdog-hard-lockup:arm_smmu_cmdq_issue_cmdlist:no-space",
        "smmuv3-stopped-queue-space-spin",
    ),
    // An exiting process unmaps 11 buffers into a wedged SMMU: two 1 s CMD_SYNC timeouts a
    // buffer, the soft lockup at 20 s, then the RCU stall.
    (
        "smmuv3-wedged-exit-rcu-stall.json",
        "watchdog-soft-lockup:arm_smmu_cmdq_issue_cmdlist:sync-timeout\n",
        "rcu-stall:arm_smmu_cmdq_issue_cmdlist:sync-timeout",
        "smmuv3-shutdown-exit-softlockup",
    ),
    // An endpoint stops answering ATC invalidations and cpu0, which the GERROR goes to, waits
    // out its own CMD_SYNC with interrupts off before it can skip the error: every CMD_SYNC of
    // cpu2's exiting process succeeds, each only once its back-off ends at 1.07 s. No timeout
    // of its own, yet behind the ATC timer (`atc-timeout`, once `spin`).
    (
        "smmuv3-atc-slow-syncs-no-timeout.json",
        "",
        "watchdog-soft-lockup:arm_smmu_cmdq_issue_cmdlist:atc-timeout",
        "smmuv3-hung-atc-stalls-queue",
    ),
    // cpu0 unmaps 108 pages one TLBI each while exiting processes send ATC invalidations to an
    // endpoint that stopped answering: its waits for queue space end only as the ATC timer
    // releases the queue, with no CMD_SYNC timeout of its own, and 21 s pass without a
    // quiescent state. Its space waits count as waits behind the ATC timer (`atc-timeout`,
    // once `spin`).
    (
        "smmuv3-atc-space-waits-rcu-stall.json",
        "watchdog-soft-lockup:arm_smmu_cmdq_issue_cmdlist:atc-timeout\n",
        "rcu-stall:arm_smmu_cmdq_issue_cmdlist:atc-timeout",
        "smmuv3-hung-atc-stalls-queue",
    ),
    // Three CPUs take turns on the exclusive cmdq lock of a wedged queue while the reboot task
    // sleeps out its grace period; then it waits for space there too.
    (
        "smmuv3-reboot-grace-livelock.raw",
        "",
        "soft-lockup:arm_smmu_cmdq_issue_cmdlist:no-space",
        "smmuv3-stopped-queue-space-spin",
    ),
];

/// Replays an SMMUv3 reproducer of tests/data/triage on linux-7.0 with `sup`.
fn replay_smmuv3(file: &str, sup: &str) -> Verdict {
    let l = input::load::<iommufuzz::smmuv3::model::Smmuv3Model>(
        &root().join("tests/data/triage").join(file),
    )
    .expect("loads");
    let mut r = SmmuRunner::default();
    r.sup = Suppressions::parse(sup).expect("suppressions parse");
    r.run(&l.scenario, smmu_variants::newest(), l.source())
}

const SMMUV3_SUPP: &str = "suppressions/smmuv3-upstream-known.supp";

#[test]
fn smmuv3_victims_replay_to_their_signature_and_are_filed_under_their_finding() {
    let all = std::fs::read_to_string(root().join(SMMUV3_SUPP)).expect("suppressions file");
    for (file, sup, sig, finding) in SMMUV3_VICTIMS {
        assert!(root().join("crashes").join(finding).is_dir(), "{finding}");
        let v = replay_smmuv3(file, sup);
        let got = v.violation.map(|x| x.signature()).unwrap_or_default();
        assert_eq!(&got, sig, "{file}");
        listed_under(SMMUV3_SUPP, finding, sig);
        // With the whole file, nothing is left: no untriaged class is needed to pass them.
        let v = replay_smmuv3(file, &all);
        assert!(v.violation.is_none(), "{file}: {:?}", v.violation);
    }
}

/// A CPU spinning on devices_lock behind a CPU that waits for queue space waits for that space,
/// whatever CMD_SYNC timeouts either sat through before.
#[test]
fn smmuv3_lock_waiter_takes_the_holders_cause() {
    let v = replay_smmuv3(
        "smmuv3-sfm-sva-devices-lock-no-space.json",
        "*:*:no-space\n",
    );
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let r = reports(&v);
    assert!(
        r.iter()
            .any(|x| x.func == "arm_smmu_atc_inv_domain" && x.cause == "no-space"),
        "{r:?}"
    );
    assert!(r.iter().all(|x| x.cause == "no-space"), "{r:?}");
}

/// Three CPUs take turns on the exclusive cmdq lock of a wedged queue, each refreshing
/// `llq.cons` to the value already there: shared memory stays as it was, so they park, the clock
/// moves on to the reboot task's grace timer, and the run ends as soon as no CPU can move, long
/// before the step budget (which used to end it at 0.5 s of virtual time).
#[test]
fn smmuv3_wedged_queue_spinners_park_instead_of_spending_the_step_budget() {
    let v = replay_smmuv3("smmuv3-reboot-grace-livelock.raw", "");
    let x = v.violation.expect("lockup");
    assert!(x.msg.contains("no progress possible"), "{}", x.msg);
    assert!(v.steps < 1_000, "{} steps", v.steps);
    assert!(
        v.end_time >= iommufuzz::sim::clock::SEC,
        "{} ns: past the grace period",
        v.end_time
    );
}

/// Model fidelity: an mm is released once (four CPUs given mm-release on the one SVA domain
/// do not queue up behind each other's CMD_SYNC timeouts on its devices_lock), and a client's
/// unmap takes its own DMA domain's devices_lock, not the SVA domain's.
#[test]
fn smmuv3_devices_lock_is_per_domain_and_an_mm_is_released_once() {
    let v = replay_smmuv3("smmuv3-one-mm-one-release.json", "");
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let v = replay_smmuv3("smmuv3-unmap-not-behind-sva-lock.json", "*:*:no-space\n");
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let r = reports(&v);
    assert!(
        r.iter().all(|x| x.func != "arm_smmu_atc_inv_domain"),
        "{r:?}"
    );
}

/// A GERROR raised while every CPU has interrupts off is taken by the first CPU that turns them
/// back on, before that CPU runs on: local_irq_restore() delivers a pending interrupt at once.
/// Here the only CPU is in `arm_smmu_mm_release` with interrupts off across four CMD_SYNCs (two
/// CD rewrites for each of two SVA masters) that wait behind an aborted command, 1 s each; the
/// handler skips the error right after the outer restore, so the next call finds the queue
/// moving (four timeouts, not one per later call).
#[test]
fn smmuv3_pending_gerror_is_taken_when_interrupts_come_back_on() {
    use iommufuzz::sim::trace::Actor;
    use iommufuzz::smmuv3::world::Ev;
    let l = input::load::<iommufuzz::smmuv3::model::Smmuv3Model>(
        &root().join("tests/data/triage/smmuv3-gerror-pending-through-sync-timeouts.json"),
    )
    .expect("loads");
    let mut r = SmmuRunner::default();
    let v = r.run(&l.scenario, smmu_variants::newest(), l.source());
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let w = r.world();
    let ev = &w.trace.entries;
    let timeouts = ev
        .iter()
        .filter(|e| matches!(e.ev, Ev::SyncTimeout { .. }))
        .count();
    assert_eq!(
        timeouts, 4,
        "the error is skipped after the release's last timeout"
    );
    let h = ev
        .iter()
        .position(|e| e.who == Actor::Irq(0))
        .expect("cpu0 takes the GERROR");
    assert!(matches!(ev[h].ev, Ev::Gerror(_)), "{:?}", ev[h]);
    // Just before: cpu0's call returning -ETIMEDOUT with interrupts coming back on.
    let before = ev[..h].iter().rev().find(|e| e.who == Actor::Cpu(0));
    assert!(
        matches!(before.map(|e| e.ev), Some(Ev::Ret(r)) if r < 0),
        "{before:?}"
    );
    // Within the cost of a couple of steps, not after a timeout.
    let t = before.map_or(0, |e| e.t);
    assert!(
        ev[h].t - t < 1_000,
        "taken at {} after the return at {t}",
        ev[h].t
    );
    // Nothing of cpu0's program runs until the handler acknowledged the error.
    let ack = h + ev[h..]
        .iter()
        .position(|e| matches!(e.ev, Ev::Gerrorn(_)))
        .expect("the handler writes GERRORN");
    assert!(ev[h..ack].iter().all(|e| e.who != Actor::Cpu(0)));
}

/// The same delivery on four CPUs with a hung ATS endpoint: an RCU stall of 21 s used to be
/// reported here because the GERROR of an aborted command waited 4 s of CMD_SYNC timeouts to
/// be taken (each CPU went back into the queue with interrupts off before the handler step
/// was chosen). Taken when interrupts come back on, every operation returns.
#[test]
fn smmuv3_late_gerror_stall_is_gone() {
    let v = replay_smmuv3("smmuv3-gerror-late-rcu-stall.json", "");
    assert!(v.violation.is_none(), "{:?}", v.violation);
    assert!(v.suppressed.is_empty(), "{:?}", v.suppressed);
}

/// Two CPUs retry against a hung endpoint for ever while a third waits for the queue space
/// they keep taking. With the watchdogs' reports suppressed, the run goes on until the healing
/// budget runs out: the retry is to blame then, not the CPU parked behind it (which used to be
/// reported as a new `queue-full` lockup).
#[test]
fn budget_blames_the_endless_retry_not_the_cpu_waiting_for_space() {
    let v = consequence(
        "hung-retry-starves-queue-space.json",
        "watchdog-hard-lockup:*:*\nwatchdog-soft-lockup:*:*\nrcu-stall:*:*\n",
        "hard-lockup:qi_submit_sync:ite-retry-hung",
        "finding-hung-device-retry",
    );
    let msg = &v.violation.expect("a budget report").msg;
    assert!(msg.contains("virtual-time budget"), "{msg}");
}

/// Replays a VT-d reproducer of tests/data/triage on each variant of `want` (no suppressions)
/// and checks the signature it stops on ("" for a pass).
fn signatures_per_variant(file: &str, want: &[(&str, &str)]) {
    let l = load(file);
    let mut r = Runner::default();
    for (name, sig) in want {
        let var = variants::by_name(name).expect("variant");
        let v = r.run(&l.scenario, var, l.source());
        let got = v.violation.map(|x| x.signature()).unwrap_or_default();
        assert_eq!(&got, sig, "{file} on {name}");
    }
}

/// The IQE form of the fault handler's write-back (before bd5cdad0c8e0, spec D1): the engine
/// stops on an invalid descriptor of cpu0's, the handler on cpu1 clears IQE, the engine fetches
/// the same descriptor and raises IQE again, and cpu0's `qi_check_fault()` reads FSTS only
/// while it is clear. The cause names the handler; from linux-3.9 the owner repairs the slot.
#[test]
fn the_fault_handler_clearing_iqe_behind_the_owner_is_named_and_fixed_in_3_9() {
    let storm = "hard-lockup:qi_submit_sync:iqe-cleared-by-irq";
    signatures_per_variant(
        "irq-clears-iqe-storm.json",
        &[
            ("linux-2.6.31", storm),
            ("linux-3.8", storm),
            ("linux-3.9", ""),
        ],
    );
}

/// Suspend takes the other CPUs offline only once their operations have returned (a CPU
/// inside `qi_submit_sync()` runs with interrupts off and `q_lock` held, so the stopper cannot
/// run there). Stopping them mid-submission instead left stale `desc_status[]` entries that
/// `dmar_reenable_qi()` keeps, and the next reclaim counted them: free_cnt past the ring on
/// 2.6.31 to 6.11. Two suspends at once: the second gets -EBUSY instead of waiting for the
/// first to go offline while the first waits for it.
#[test]
fn suspend_waits_for_submissions_in_flight_and_one_suspend_runs_at_a_time() {
    let all_pass = [
        ("linux-2.6.31", ""),
        ("linux-3.9", ""),
        ("linux-5.8", ""),
        ("linux-6.11", ""),
        ("linux-7.0", ""),
    ];
    signatures_per_variant("suspend-waits-for-submissions.json", &all_pass);
    signatures_per_variant("two-suspends.json", &all_pass);
}

/// The late second status write of an IQE-repaired wait before 3cf74230c139: it lands on a slot
/// reclaim has passed, and the walk, unbounded at `free_head`, counts that slot again once
/// `free_tail` reaches it (free_cnt past the ring). From v6.12 the same write is the queue leak.
#[test]
fn a_late_status_write_is_counted_twice_before_6_12_and_leaks_from_it() {
    let count = "queue-integrity:invariant:free_cnt";
    let leak = "hard-lockup:qi_submit_sync:queue-leak";
    signatures_per_variant(
        "iqe-late-status-overcount.json",
        &[
            ("linux-5.8", count),
            ("linux-6.11", count),
            ("linux-6.12", leak),
            ("linux-7.0", leak),
        ],
    );
}

/// After the resume the other CPUs come back online and go on with their programs: cpu1's
/// second flush runs against the re-enabled queue, concurrently with cpu0's. The suspending
/// CPU itself flushes every cache before translation goes off (`iommu_suspend()`), and the
/// restarted queue's first submissions are `iommu_set_root_entry()`'s global flushes.
#[test]
fn cpus_taken_offline_for_suspend_run_on_after_the_resume() {
    signatures_per_variant("suspend-then-resume-submits.json", &[("linux-7.0", "")]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_iommufuzz"))
        .args(["replay", "--full"])
        .arg(root().join("tests/data/triage/suspend-then-resume-submits.json"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&o.stdout);
    let at = |what: &str| text.find(what).unwrap_or_else(|| panic!("{what}:\n{text}"));
    let thaw = at("thaw_secondary_cpus");
    assert!(at("| offline ") < thaw, "offline before the thaw");
    assert!(thaw < at("online again"), "online after the thaw");
    let (te_off, qi_off, te_on) = (
        at("GCMD.TE := 0"),
        at("dmar_disable_qi"),
        at("GCMD.TE := 1"),
    );
    assert!(
        at("| offline ") < te_off && te_off < qi_off,
        "flushed, then TE off, then QI off"
    );
    assert!(
        at("__dmar_enable_qi") < te_on && te_on < thaw,
        "TE on again before the thaw"
    );
    let calls = text.matches("qi_submit_sync(count=1)").count();
    // Suspend: context cache, IOTLB. Resume: context cache, PASID cache, IOTLB.
    assert_eq!(
        calls,
        3 + 2 + 3,
        "the programs' three flushes and the suspend path's five:\n{text}"
    );
    let resumed = &text[at("__dmar_enable_qi")..te_on];
    assert_eq!(
        resumed.matches("qi_submit_sync(count=1)").count(),
        3,
        "{text}"
    );
}

/// CONS polling (no MSI): the SMMU consumed each CMD_SYNC before its submitter began to wait.
/// The first check reads the shadow llq, which is stale; the `readl` of CONS after the wait
/// sees the SYNC consumed at once. The model parked the CPU there for the whole 1 s poll budget
/// instead, and 11 unmaps ran past the soft-lockup threshold (`spin`, 21 s).
#[test]
fn a_cmd_sync_consumed_before_its_cons_poll_began_is_seen_at_once() {
    let v = replay_smmuv3("smmuv3-cons-poll-consumed-before-wait.json", "");
    assert!(v.violation.is_none(), "{:?}", v.violation);
    // The exit starts at 1 s; its 22 CMD_SYNCs take microseconds, not a second each.
    assert!(
        v.end_time < iommufuzz::sim::clock::SEC * 11 / 10,
        "{} ns",
        v.end_time
    );
}

/// A submission that returned early (`finding-early-return-slot-overwrite`) leaves a device-TLB
/// invalidation queued; the suspending CPU's `iommu_suspend()` flush waits behind its ATS
/// timeout, 60 s with interrupts off. `timekeeping_resume()`, resumed after the IOMMU's hook,
/// touches the soft-lockup watchdog, so turning interrupts back on in `suspend_enter()` reports
/// no soft lockup; the stall itself is still seen by the NMI watchdog (an accepted ATS
/// timeout).
#[test]
fn a_stall_in_the_syscore_hooks_is_no_soft_lockup_at_suspend_enter() {
    let all = upstream_supp();
    let v = replay("suspend-flush-behind-ats-timeout.raw", &all);
    assert!(v.violation.is_none(), "{:?}", v.violation);
    let r = reports(&v);
    assert!(r.iter().all(|x| x.func != "suspend_enter"), "{r:?}");
    let stall = r.iter().find(|x| {
        x.class == Class::WatchdogHardLockup && x.time >= 60 * iommufuzz::sim::clock::SEC
    });
    assert!(stall.is_some_and(|x| x.cause == "ats-timeout"), "{r:?}");
}

/// A hung endpoint's device-TLB flush is retried every ATS timeout (6 s here,
/// `finding-hung-device-retry`), each retry dropping `q_lock` and restoring interrupts. The
/// flush itself runs under an irqsave spinlock: before the cache tags, `iommu_flush_dev_iotlb()`'s
/// loop over the domain's devices; from v6.10 `cache_tag_flush_range()` under `domain->cache_lock`.
/// So interrupts stay off across the retries and the NMI watchdog fires at 12 s, before the RCU
/// stall (24 s, which is what a model without the lock reported).
#[test]
fn a_device_tlb_flush_keeps_interrupts_off_across_its_retries() {
    let hard = "watchdog-hard-lockup:qi_submit_sync:ite-retry-hung";
    signatures_per_variant(
        "two-devtlb-flushes-one-lock.json",
        &[
            ("linux-2.6.31", hard),
            ("linux-5.8", hard),
            ("linux-6.9", hard),
            ("linux-6.11", hard),
        ],
    );
}

/// Until v6.0 `iommu_flush_dev_iotlb()` ran its device loop, and `dmar_remove_one_dev_info()`
/// the whole teardown, under the one global `device_domain_lock` (irqsave): while cpu0's
/// device-TLB flush retries against a hung endpoint, cpu1's flush spins on that lock with
/// interrupts off and never reaches the queue, and its report names what the holder waits for.
/// From v6.0 the lock is the domain's own (`domain->lock`; from v6.10 `domain->cache_lock`
/// across the whole flush): cpu1 still spins when it flushes the same device, so the same
/// domain, but a flush of another domain submits and retries too (behind a teardown on 7.0:
/// on 6.9 to 6.14 the teardown sends the endpoint nothing).
#[test]
fn device_tlb_flushes_serialise_on_device_domain_lock_before_6_0() {
    let mut r = Runner::default();
    r.sup = Suppressions::parse("watchdog-hard-lockup:qi_submit_sync:ite-retry-hung\n")
        .expect("suppressions parse");
    let (one, two) = (
        "two-devtlb-flushes-global-lock.json",
        "two-devtlb-flushes-two-domains.json",
    );
    let (loop_, tags, q) = (
        "iommu_flush_dev_iotlb",
        "cache_tag_flush_range",
        "qi_submit_sync",
    );
    for (file, name, func) in [
        (one, "linux-2.6.31", loop_),
        (two, "linux-2.6.31", loop_),
        (one, "linux-5.8", loop_),
        (two, "linux-5.8", loop_),
        (one, "linux-6.9", loop_),
        (two, "linux-6.9", q),
        (one, "linux-6.11", tags),
        (two, "linux-6.11", q),
        (one, "linux-7.0", tags),
        (two, "linux-7.0", q),
        ("teardown-holds-device-domain-lock.json", "linux-5.8", loop_),
        ("teardown-holds-device-domain-lock.json", "linux-7.0", q),
    ] {
        let l = load(file);
        let v = r.run(
            &l.scenario,
            variants::by_name(name).expect("variant"),
            l.source(),
        );
        let cpu1 = reports(&v).into_iter().find(|x| x.cpu == Some(1)).cloned();
        let cpu1 = cpu1.unwrap_or_else(|| panic!("{file} on {name}: cpu1 reported: {v:?}"));
        assert_eq!(cpu1.func, func, "{file} on {name}: {cpu1:?}");
        assert_eq!(cpu1.cause, "ite-retry-hung", "{file} on {name}: {cpu1:?}");
        assert_eq!(cpu1.class, Class::WatchdogHardLockup, "{file} on {name}");
    }
}

/// The legacy teardown (`domain_remove_one_dev_info()` → `iommu_detach_dev()`) disables ATS
/// and flushes the context cache and the IOTLB globally: it sends the hung endpoint nothing
/// and returns. Scalable mode's `intel_pasid_tear_down_entry()` sends it a PASID device-TLB
/// invalidation, retried every ATS timeout (the presence checks of v6.9 and 7.0 do not help a
/// present endpoint). Each retry restores interrupts for a moment, so 7.0 reports the RCU
/// stall; on 5.8 the teardown holds `device_domain_lock`, interrupts stay off across the
/// retries and the NMI watchdog fires first.
#[test]
fn the_legacy_teardown_sends_no_device_tlb_invalidation() {
    let retry = "watchdog-hard-lockup:qi_submit_sync:ite-retry-hung";
    signatures_per_variant(
        "teardown-of-a-hung-device.json",
        &[
            ("linux-2.6.31", ""),
            ("linux-3.9", ""),
            ("linux-5.8", retry),
            ("linux-7.0", "rcu-stall:qi_submit_sync:ite-retry-hung"),
        ],
    );
}

/// PASID-granular descriptors came with the SVM support of v4.4: on the 2009-2013 kernels a
/// flush of {PASID-IOTLB, IOTLB, PASID device-TLB} sends the IOTLB invalidation alone (one
/// call, one descriptor); from 5.8 all three go out, one call each or batched.
#[test]
fn pasid_invalidations_exist_only_from_v4_4() {
    use iommufuzz::vtd::ops::{Config, Inv, Op};
    use iommufuzz::vtd::world::Ev;
    use iommufuzz::Source;
    let flush = Op::Flush(vec![Inv::Piotlb, Inv::Iotlb, Inv::DevTlbPasid(0)]);
    let sc = iommufuzz::Scenario::of(Config::default(), vec![vec![flush]], vec![], vec![]);
    let mut r = Runner::default();
    for (name, sent) in [
        ("linux-2.6.31", 1),
        ("linux-3.9", 1),
        ("linux-5.8", 3),
        ("linux-7.0", 3),
    ] {
        let v = r.run(
            &sc,
            variants::by_name(name).expect("variant"),
            Source::Bytes(&[]),
        );
        assert!(v.violation.is_none(), "{name}: {:?}", v.violation);
        let counts: Vec<u8> = r
            .world()
            .trace
            .entries
            .iter()
            .filter_map(|e| match e.ev {
                Ev::Call { count, .. } => Some(count),
                _ => None,
            })
            .collect();
        assert_eq!(
            counts.iter().map(|&c| u32::from(c)).sum::<u32>(),
            sent,
            "{name}: {counts:?}"
        );
    }
}

/// A flush on a pre-PASID kernel has no PASID invalidation at all: one between two device-TLB
/// invalidations neither ends nor restarts `iommu_flush_dev_iotlb()`'s loop under
/// `device_domain_lock`, so the run takes the same steps as the flush without it.
#[test]
fn a_pasid_invalidation_on_a_pre_pasid_kernel_leaves_the_device_loop_alone() {
    use iommufuzz::vtd::ops::{Config, Inv, Op};
    use iommufuzz::Source;
    let run = |invs: Vec<Inv>| {
        let cfg = Config {
            ndevs: 2,
            ..Config::default()
        };
        let sc = iommufuzz::Scenario::of(cfg, vec![vec![Op::Flush(invs)]], vec![], vec![]);
        let v = Runner::default().run(
            &sc,
            variants::by_name("linux-2.6.31").expect("variant"),
            Source::Bytes(&[]),
        );
        assert!(v.violation.is_none(), "{:?}", v.violation);
        v.steps
    };
    let with = run(vec![Inv::DevTlb(0), Inv::DevTlbPasid(0), Inv::DevTlb(1)]);
    assert_eq!(with, run(vec![Inv::DevTlb(0), Inv::DevTlb(1)]));
}

/// `intel_iommu_shutdown()` came in v5.5 (6c3a44ed3c55): before it a shutdown stops the other
/// CPUs and leaves translation on; from 5.8 it turns translation off.
#[test]
fn shutdown_turns_translation_off_only_from_v5_5() {
    use iommufuzz::vtd::ops::{Config, Op};
    use iommufuzz::vtd::world::Ev;
    use iommufuzz::Source;
    let sc = iommufuzz::Scenario::of(
        Config::default(),
        vec![vec![Op::Shutdown], vec![]],
        vec![],
        vec![],
    );
    let mut r = Runner::default();
    for (name, off) in [
        ("linux-2.6.31", false),
        ("linux-3.9", false),
        ("linux-5.8", true),
        ("linux-7.0", true),
    ] {
        let v = r.run(
            &sc,
            variants::by_name(name).expect("variant"),
            Source::Bytes(&[]),
        );
        assert!(v.violation.is_none(), "{name}: {:?}", v.violation);
        let ev = &r.world().trace.entries;
        assert!(
            ev.iter().any(|e| matches!(e.ev, Ev::StopOthers(_))),
            "{name}"
        );
        assert_eq!(ev.iter().any(|e| matches!(e.ev, Ev::TeOff)), off, "{name}");
    }
}

/// A CPU spinning on `q_lock` waits for whatever keeps the holder inside: here cpu1's 2009
/// odd-slot ITE walk that never ends (any count on linux-6.9). cpu0 had waited out the ATS
/// timeout (accepted) before it needed the lock again, so its NMI watchdog fires first; its
/// report names the walk, not its own earlier wait.
#[test]
fn a_q_lock_spinner_takes_the_holders_cause() {
    signatures_per_variant(
        "qlock-spinner-behind-endless-walk.json",
        &[(
            "linux-6.9",
            "watchdog-hard-lockup:qi_submit_sync:ite-walk-endless",
        )],
    );
}

/// When the healing budget runs out, a CPU spinning on a spinlock another CPU holds is only
/// that CPU's victim: the report names the holder. Here cpu0 spins on `q_lock` while cpu1,
/// holding it in `qi_check_fault()`, goes on retrying against a removed endpoint (linux-5.8,
/// before the presence check); cpu0 used to be named, spinning in `qi_submit_sync`.
#[test]
fn a_lock_spinner_is_reported_after_the_holder() {
    let l = load("qlock-spinner-after-holder.json");
    let v = Runner::default().run(
        &l.scenario,
        variants::by_name("linux-5.8").expect("variant"),
        l.source(),
    );
    let x = v.violation.expect("the budget runs out");
    assert_eq!(x.signature(), "hard-lockup:qi_check_fault:ite-retry-absent");
    assert_eq!(x.cpu, Some(1), "{x:?}");
    assert!(x.msg.contains("holding lock 0"), "{}", x.msg);
}

/// What a teardown submits, one call each: the legacy kernels' context cache and IOTLB; 5.8's
/// PASID tear-down (PASID cache, PASID-IOTLB, PASID device-TLB) and context clear (context
/// cache, IOTLB) under `device_domain_lock`; 6.9 to 6.14 the PASID tear-down with ATS already
/// disabled (no device-TLB flush); from 6.15 the whole PASID tear-down.
#[test]
fn a_teardown_submits_what_its_kernel_submits() {
    for (name, calls) in [
        ("linux-3.9", 2),
        ("linux-5.8", 5),
        ("linux-6.9", 2),
        ("linux-6.12", 2),
        ("linux-7.0", 3),
    ] {
        let text = replay_full("teardown-submissions.json", name);
        let n = text.matches("qi_submit_sync(count=1)").count();
        assert_eq!(n, calls, "{name}:\n{text}");
    }
}

/// A hung endpoint's retry loop, found on linux-7.0-guo by a campaign once lock waiters took
/// their holder's cause: the healing budget ends while cpu0 spins on `q_lock` held by cpu2, who
/// waits for queue space between two rounds (the ITE has just dropped every request in flight).
/// The space is the retry loop's, so the report names the loop, not `queue-full`.
#[test]
fn a_space_wait_between_two_retry_rounds_names_the_retry_loop() {
    let watchdogs = "watchdog-soft-lockup:*:*\nwatchdog-hard-lockup:*:*\nrcu-stall:*:*\n";
    let v = consequence(
        "qlock-spinner-behind-space-wait-between-rounds.json",
        watchdogs,
        "hard-lockup:qi_submit_sync:ite-retry-hung",
        "finding-hung-device-retry",
    );
    let msg = &v.violation.expect("a violation").msg;
    assert!(msg.contains("spins on lock 0 held by cpu2"), "{msg}");
}

/// From c43e1ccdebf2 (v6.13) the PASID tear-down ends with `intel_iommu_drain_pasid_prq()` for
/// a device with PRI enabled (here: one a program drains). Its device-TLB invalidation has no
/// presence check: after the tear-down skipped its own flush to the removed dev0, the drain
/// sends one anyway and waits out the ATS timeout until ITE and -ETIMEDOUT. 6.12 has no drain
/// in the tear-down: only the program's own drain reaches the endpoint.
#[test]
fn a_teardown_drains_a_pri_device_past_its_presence_check() {
    for (name, sent) in [("linux-7.0-guo", 2), ("linux-7.0", 2), ("linux-6.12", 1)] {
        let text = replay_full("teardown-of-a-removed-pri-device.json", name);
        assert_eq!(text.matches("ATS inv").count(), sent, "{name}:\n{text}");
        if sent == 2 {
            let skipped = text.find("devTLB dev0 skipped").expect("presence check");
            let first = text.find("ATS inv").expect("sent");
            let drains: Vec<_> = text.match_indices("qi_submit_sync(count=3)").collect();
            assert_eq!(drains.len(), 2, "{name}");
            assert!(skipped < drains[0].0 && drains[0].0 < first, "{name}");
            assert!(first < drains[1].0, "the tear-down's drain sent it: {name}");
        }
    }
}
