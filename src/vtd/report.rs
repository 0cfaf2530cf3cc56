//! Renders a VT-d trace as timeline lines and the queue state in the words of dmar.c.

use super::model::VtdModel;
use super::world::{st, Ev, Snap, Vtd};
use crate::report::timeline::Line;
use crate::report::view::View;
use crate::sim::trace::Entry;
use std::fmt::Write as _;

fn status_name(v: u8) -> &'static str {
    match v {
        st::QI_FREE => "FREE",
        st::QI_IN_USE => "IN_USE",
        st::QI_DONE => "DONE",
        _ => "ABORT",
    }
}

fn fsts_names(f: u8) -> String {
    let mut v = Vec::new();
    for (b, n) in [
        (super::hw::fsts::IQE, "IQE"),
        (super::hw::fsts::ICE, "ICE"),
        (super::hw::fsts::ITE, "ITE"),
    ] {
        if f & b != 0 {
            v.push(n);
        }
    }
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}

/// One-line queue state: registers, driver indices and `desc_status[]`.
pub fn snap_text(s: &Snap, len: u16) -> String {
    let n = (len as usize).min(32);
    let mut stat = String::new();
    for i in 0..n {
        let v = ((s.status >> (2 * i)) & 3) as u8;
        stat.push(match v {
            st::QI_FREE => '.',
            st::QI_IN_USE => 'U',
            st::QI_DONE => 'D',
            _ => 'A',
        });
    }
    if len as usize > n {
        stat.push_str("...");
    }
    format!(
        "IQH={} IQT={} FSTS={} free_head={} free_tail={} free_cnt={} desc_status=[{}]",
        s.iqh,
        s.iqt,
        fsts_names(s.fsts),
        s.head,
        s.tail,
        s.cnt,
        stat
    )
}

fn text(ev: &Ev) -> Option<String> {
    Some(match *ev {
        Ev::Call { count, .. } => format!("qi_submit_sync(count={count})"),
        Ev::Claim { first, w } if first == w => format!("queue wait@{w}"),
        Ev::Claim { first, w } => format!("queue slots {first}.. wait@{w}"),
        Ev::Iqt(v) => format!("write IQT={v}"),
        Ev::Status {
            val: st::QI_IN_USE, ..
        } => return None,
        Ev::Status { slot, val } => format!("s[{slot}] := {}", status_name(val)),
        Ev::Poll { slot, val } => format!("polls s[{slot}] = {}", status_name(val)),
        Ev::Reclaim { tail } => format!("reclaim: free_tail -> {tail}"),
        Ev::Fault(f) => format!("qi_dump_fault: FSTS={}", fsts_names(f)),
        Ev::ClearFsts(b) => format!("clear FSTS.{}", fsts_names(b)),
        Ev::IqeFix(s) => format!("IQE at own slot {s}: copy wait"),
        Ev::Walk { head, tail } => format!("ITE walk head={head} until {tail}"),
        Ev::Restart => "-EAGAIN: restart".into(),
        Ev::Ret(rc) => format!("returns {}", rc_name(rc as i32)),
        Ev::Skip(d) => format!("devTLB dev{d} skipped"),
        Ev::TeOff => "GCMD.TE := 0".into(),
        Ev::TeOn => "GCMD.TE := 1".into(),
        Ev::QiOff(true) => "dmar_disable_qi: IQT == IQH, QIE := 0".into(),
        Ev::QiOff(false) => "dmar_disable_qi: timeout, QIE := 0".into(),
        Ev::StopOthers(m) => format!("other CPUs stopped (mask {m:#x})"),
        Ev::OfflineAsk => "freeze_secondary_cpus: others go offline".into(),
        Ev::Offline => "offline".into(),
        Ev::Online => "online again".into(),
        Ev::Thaw => "thaw_secondary_cpus".into(),
        Ev::SuspendBusy => "enter_state: -EBUSY (suspend under way)".into(),
        Ev::QiOn => "__dmar_enable_qi: heads := 0, QIE := 1".into(),
        Ev::QueueFull => "free_cnt too low: waits".into(),
        Ev::Fetch(s) => format!("fetch {s}"),
        Ev::Exec(s) => format!("exec {s}"),
        Ev::AtsSent(s, d) => format!("ATS inv {s} -> dev{d}"),
        Ev::AtsDone(s, d) => format!("dev{d} completes {s}"),
        Ev::StatusWrite { slot, status } if slot == status => {
            format!("wait@{slot}: s[{slot}] := DONE")
        }
        Ev::StatusWrite { slot, status } => format!("wait@{slot}: s[{status}] := DONE"),
        Ev::WaitDone(s) => format!("wait@{s} done (no write)"),
        Ev::Ite { slot, dev, dropped } => {
            format!("ITE: {slot} dev{dev} timed out, {dropped} waits dropped")
        }
        Ev::Iqe(s) => format!("IQE: slot {s} invalid"),
        Ev::Ice(sid) => format!("ICE sid {sid:#x}"),
        Ev::Inject(f) => format!("inject {f:?}"),
        Ev::Env(e) => format!("env {e:?}"),
        Ev::IrqClears(b) => format!("dmar_fault: FSTS write-back clears {}", fsts_names(b)),
        Ev::Snap(_) => return None,
    })
}

/// Kernel name of a return code.
pub fn rc_name(rc: i32) -> String {
    match rc {
        0 => "0".into(),
        -22 => "-EINVAL".into(),
        -11 => "-EAGAIN".into(),
        -110 => "-ETIMEDOUT".into(),
        x => x.to_string(),
    }
}

/// Timeline lines of a run.
pub fn lines(w: &Vtd) -> Vec<Line> {
    let len = w.qlen();
    w.trace
        .entries
        .iter()
        .filter_map(|e: &Entry<Ev>| match e.ev {
            Ev::Snap(s) => Some(Line::Wide(snap_text(&s, len))),
            ref ev => text(ev).map(|t| Line::Cell {
                t: e.t,
                who: e.who,
                text: t,
            }),
        })
        .collect()
}

/// The queue state now.
pub fn state_now(w: &Vtd) -> String {
    snap_text(&w.snapshot(), w.qlen())
}

impl View for VtdModel {
    const TITLE: &'static str = "Intel VT-d queued invalidation, drivers/iommu/intel/dmar.c";
    const NAME_WIDTH: usize = 14;
    const HW_COLUMN: &'static str = "HW / devices / env";

    /// qi_dump_fault() printing with interrupts off is how a fault storm becomes a lockup.
    fn notes(w: &Vtd, o: &mut String) {
        if w.prints > 0 {
            let _ = writeln!(
                o,
                "  qi_dump_fault printed {} times with interrupts off",
                w.prints
            );
        }
    }

    fn lines(w: &Vtd) -> Vec<Line> {
        lines(w)
    }

    fn state_now(w: &Vtd) -> String {
        state_now(w)
    }
}
