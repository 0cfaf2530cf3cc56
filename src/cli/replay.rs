//! `iommufuzz replay` and `iommufuzz convert` for every model, and the report they print.

use super::campaign::{say, Campaign};
use super::input::{self, Loaded};
use super::{OracleArgs, Usage};
use crate::oracle::{Class, Violation};
use crate::report::timeline;
use crate::report::view::View;
use crate::sim::clock::Secs;
use crate::sim::cpu::HasMachine;
use crate::sim::model::{Model, Variant as _};
use crate::sim::outcome::Verdict;
use crate::sim::runner::Runner;
use std::fmt::Write as _;
use std::path::Path;

/// A short explanation of each class for reports.
pub fn explain(c: Class) -> &'static str {
    match c {
        Class::HardLockup => "a CPU can never leave its loop and has interrupts off: the NMI watchdog reports a hard LOCKUP, and every CPU that then needs q_lock or queue space piles up behind it",
        Class::SoftLockup => "a CPU can never leave its loop (interrupts on): soft lockup, the task never returns",
        Class::WatchdogHardLockup => "interrupts stayed off past the 10 s hard-lockup threshold",
        Class::WatchdogSoftLockup => "the CPU did not schedule for 20 s: the soft-lockup watchdog fires",
        Class::RcuStall => "the CPU did not pass an RCU quiescent state for 21 s: RCU stall warning",
        Class::LostCompletion => "a completion written by the hardware did not reach the submission that owns the slot",
        Class::SlotReuse => "a slot was freed, reused or overwritten while its owner or the hardware still needed it",
        Class::FalseSuccess => "a submission reported success for an invalidation the hardware never ran: stale translations survive (security bug)",
        Class::QueueIntegrity => "a register or pointer invariant of the queue broke",
        Class::RebootHang => "the reboot did not reach machine_restart() within its bound: a CPU it needs is stuck, or shutdown callbacks wait on a disabled IOMMU",
        Class::Starvation => "a lock waiter was bypassed again and again with interrupts off: its wait has no bound",
    }
}

/// The verdict lines every model's report starts with: the violation and its meaning (or the
/// pass), then the suppressed findings.
pub fn verdict_head(
    o: &mut String,
    v: Option<&Violation>,
    suppressed: &[Violation],
    variant: &str,
) {
    match v {
        Some(x) => {
            let _ = writeln!(
                o,
                "verdict: VIOLATION {} on {variant} (signature {})",
                x.class,
                x.signature()
            );
            let _ = writeln!(
                o,
                "  at t={} s, cpu{}: {}",
                Secs(x.time),
                x.cpu.unwrap_or(0),
                x.msg
            );
            let _ = writeln!(o, "  meaning: {}", explain(x.class));
        }
        None => {
            let _ = writeln!(
                o,
                "verdict: PASS on {variant} (every operation returned, no oracle fired)"
            );
        }
    }
    for s in suppressed {
        let _ = writeln!(
            o,
            "  suppressed: {} at t={} s: {}",
            s.signature(),
            Secs(s.time),
            s.msg
        );
    }
}

/// The lines every model's report ends with: run figures, timeline, final queue state and the
/// command that reproduces the run.
pub fn report_tail(o: &mut String, v: &Verdict, timeline: &str, state: &str, again: &str) {
    let _ = writeln!(
        o,
        "  steps={} virtual time={} s trace={:016x}\n",
        v.steps,
        Secs(v.end_time),
        v.trace_hash
    );
    let _ = write!(o, "{timeline}");
    let _ = writeln!(o, "\nqueue state at the end: {state}");
    let _ = writeln!(o, "\nreproduce: {again}");
}

/// The verdict, explanation, timeline and reproduce command of the last run of `r`.
pub fn report<M: Campaign + View>(
    r: &Runner<M>,
    v: &Verdict,
    var: &M::Variant,
    file: &Path,
    full: bool,
) -> String {
    let mut o = String::new();
    let w = r.world();
    verdict_head(&mut o, v.violation.as_ref(), &v.suppressed, var.name());
    M::notes(&w, &mut o);
    let ncpus = w.machine().ncpus as usize;
    let timeline = timeline::render(
        &M::lines(&w),
        ncpus,
        M::HW_COLUMN,
        if full { 0 } else { 120 },
    );
    let again = reproduce::<M>(file, var);
    report_tail(&mut o, v, &timeline, &M::state_now(&w), &again);
    o
}

/// The last run of `r` as a JSON report (`replay --format json`) or an HTML page (`html`).
pub fn report_doc<M: Campaign + View>(
    r: &Runner<M>,
    v: &Verdict,
    var: &M::Variant,
    file: &Path,
    format: Format,
) -> String {
    let w = r.world();
    let again = reproduce::<M>(file, var);
    let p = crate::report::json::Parts {
        model: M::NAME,
        variant: var.name(),
        verdict: v,
        meaning: v.violation.as_ref().map(|x| explain(x.class)),
        lines: &M::lines(&w),
        state: &M::state_now(&w),
        again: &again,
    };
    match format {
        Format::Html => crate::report::html::render(&p, w.machine().ncpus as usize, M::HW_COLUMN),
        _ => crate::report::json::render(&p),
    }
}

/// The command that replays `file` of model `M` on `var`.
fn reproduce<M: Campaign>(file: &Path, var: &M::Variant) -> String {
    format!(
        "iommufuzz replay {} {}--variant {}",
        file.display(),
        model_flag::<M>(),
        var.name()
    )
}

/// Report formats of `replay`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Verdict, timeline in columns, queue state, reproduce command.
    #[default]
    Text,
    /// The same as one JSON document (the whole timeline).
    Json,
    /// The same as one self-contained HTML page (the whole timeline as a table).
    Html,
}

/// The `--model` flag a command line needs for `M`: none for VT-d, the default model.
fn model_flag<M: Campaign>() -> String {
    if M::NAMED {
        format!("--model {} ", M::NAME)
    } else {
        String::new()
    }
}

fn run<M: Model>(
    l: &Loaded<M>,
    var: &'static M::Variant,
    o: &OracleArgs,
) -> Result<(Runner<M>, Verdict), Usage> {
    let mut r = super::runner_for::<M>(o)?;
    let v = r.run(&l.scenario, var, l.source());
    Ok((r, v))
}

/// `iommufuzz replay FILE` for a reproducer of model `M`. With `any`, a raw file is a `vtd_any`
/// input, its variant in its first byte.
pub fn replay<M: Campaign + View>(
    file: &Path,
    variant: Option<&str>,
    any: bool,
    (full, format): (bool, Format),
    json_out: Option<&Path>,
    o: &OracleArgs,
) -> Result<i32, Usage> {
    let l = input::load_as::<M>(file, any)?;
    let var = input::variant::<M>(variant, l.variant.as_deref())?;
    let (r, v) = run(&l, var, o)?;
    let mut text = match format {
        Format::Text => report(&r, &v, var, file, full),
        Format::Json | Format::Html => report_doc(&r, &v, var, file, format),
    };
    if any {
        // A vtd_any file carries its variant in its first byte.
        text = text.replace(&format!("--variant {}\n", var.name()), "--any\n");
    }
    super::out::out(&text);
    if let Some(out) = json_out {
        write_json(&r, &l, var, out)?;
    }
    Ok(if v.violation.is_some() { 1 } else { 0 })
}

fn write_json<M: Model>(
    r: &Runner<M>,
    l: &Loaded<M>,
    var: &M::Variant,
    out: &Path,
) -> Result<(), Usage> {
    let f = r.to_file(&l.scenario, var);
    let s = serde_json::to_string_pretty(&f).map_err(|e| Usage(e.to_string()))?;
    std::fs::write(out, s + "\n").map_err(|e| Usage(format!("{}: {e}", out.display())))
}

/// `iommufuzz convert FILE --out OUT` for a reproducer of model `M`: run once, record labelled
/// decisions.
pub fn convert<M: Campaign>(file: &Path, out: &Path, variant: Option<&str>) -> Result<i32, Usage> {
    let l = input::load::<M>(file)?;
    let var = input::variant::<M>(variant, l.variant.as_deref())?;
    let (r, v) = run(&l, var, &OracleArgs::default())?;
    write_json(&r, &l, var, out)?;
    let what = v
        .violation
        .as_ref()
        .map(|x| x.signature())
        .unwrap_or_else(|| "pass".into());
    say::<M>(&format!(
        "wrote {} ({} decisions, {what})\n",
        out.display(),
        r.decisions().0.len()
    ));
    Ok(0)
}
