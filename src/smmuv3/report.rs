//! Renders an SMMUv3 trace as timeline lines, in the words of arm-smmu-v3.c and reboot.c.

use super::hw::cerror;
use super::model::Smmuv3Model;
use super::world::{Ev, Smmuv3, Snap};
use crate::report::timeline::Line;
use crate::report::view::View;
use crate::sim::trace::Entry;
use std::fmt::Write as _;

fn cerror_name(c: u8) -> &'static str {
    match c {
        cerror::NONE => "No error",
        cerror::ILL => "Illegal command",
        cerror::ABT => "Abort on command fetch",
        cerror::ATC_INV_SYNC => "ATC invalidate timeout",
        _ => "Unknown",
    }
}

/// One-line queue state: registers, the shadow llq, owner_prod and the lock.
pub fn snap_text(s: &Snap) -> String {
    format!(
        "PROD={:#x} CONS={:#010x} CR0={:#x} GERROR^N={:#x} llq.prod={:#x} llq.cons={:#x} \
         owner_prod={:#x} lock={}",
        s.prod, s.cons, s.cr0, s.gerror, s.llq_prod, s.llq_cons, s.owner_prod, s.lock
    )
}

fn dev_name(d: u8) -> String {
    if d as usize == super::hw::MAX_DEVS {
        "arm-smmu-v3".into()
    } else {
        format!("client dev{d}")
    }
}

fn text(ev: &Ev) -> Option<String> {
    Some(match *ev {
        Ev::Issue { n, sync } => format!("issue_cmdlist(n={n}{})", if sync { "+SYNC" } else { "" }),
        Ev::Reserve { start, end, owner } => {
            format!(
                "reserve [{start:#x},{end:#x}){}",
                if owner { " owner" } else { "" }
            )
        }
        Ev::CasFail => "llq cmpxchg lost: retry".into(),
        Ev::QueueFull => "no space: poll_until_not_full".into(),
        Ev::CmdqTimeout => "CMDQ timeout".into(),
        Ev::ConsRefresh(c) => format!("exclusive: llq.cons := {c:#x}"),
        Ev::SharedWait => "shared_lock: exclusive held, waits".into(),
        Ev::ExclLock(n) => format!("exclusive_trylock won (#{n})"),
        Ev::ExclUnlock(v) => format!("exclusive_unlock: lock := {v}"),
        Ev::Publish(p) => format!("owner: write PROD={p:#x}"),
        Ev::SyncWait(at) => format!("wait CMD_SYNC at {at:#x}"),
        Ev::SyncTimeout { at, hwprod, hwcons } => {
            format!("CMD_SYNC timeout at {at:#010x} [hwprod {hwprod:#010x}, hwcons {hwcons:#010x}]")
        }
        Ev::MsiWait(n) => format!("poll sync_count >= {n}"),
        Ev::MsiTimeout(n) => format!("CMD_SYNC timeout (sync_count < {n})"),
        Ev::ConsShadow(c) => format!("last waiter: llq.cons := {c:#x}"),
        Ev::Ret(rc) => format!("returns {}", rc_name(i32::from(rc))),
        Ev::Exec(at, op) => format!("{} at {at:#x}", op.name()),
        Ev::AtcSent(at, d) => format!("ATC_INV at {at:#x} -> dev{d}"),
        Ev::SyncDone { at, msi } => {
            format!(
                "CMD_SYNC at {at:#x} done{}",
                if msi { " (MSI)" } else { "" }
            )
        }
        Ev::CmdErr { at, code } => format!("CERROR {} at {at:#x}: stop", cerror_name(code)),
        Ev::AtcDone(d) => format!("dev{d} answers ATC inv"),
        Ev::AtcTimer(d) => format!("ATC timeout dev{d}"),
        Ev::Cr0(v) => format!("write CR0={v:#x}"),
        Ev::Cr0Ack(v) => format!("CR0ACK={v:#x}"),
        Ev::Cr0Fail => "failed to clear cr0".into(),
        Ev::Gerror(a) => format!("unexpected global error reported ({a:#010x})"),
        Ev::SkipErr { cons, code } => {
            format!("CMDQ error (cons {cons:#010x}): {}", cerror_name(code))
        }
        Ev::SkipIll(at) => format!("skipping command at {at:#x}: now CMD_SYNC"),
        Ev::Gerrorn(g) => format!("write GERRORN={g:#x}"),
        Ev::Inject(f) => format!("inject {f:?}"),
        Ev::Env(e) => format!("env {e:?}"),
        Ev::RebootAsked => "user runs reboot".into(),
        Ev::Restart => "kernel_restart()".into(),
        Ev::Kill => "Sent SIGKILL to all processes".into(),
        Ev::Exiting => "do_exit: release() unmaps buffers".into(),
        Ev::DevShutdown(d) => format!("device_shutdown: {}", dev_name(d)),
        Ev::MigrateWait => "migrate_to_reboot_cpu: waits cpu0".into(),
        Ev::Migrated => "migrated to cpu0".into(),
        Ev::Syscore => "syscore_shutdown()".into(),
        Ev::MachineRestart => "reboot: Restarting system".into(),
        Ev::Snap(_) => return None,
    })
}

/// Kernel name of a return code.
pub fn rc_name(rc: i32) -> String {
    match rc {
        0 => "0".into(),
        -110 => "-ETIMEDOUT".into(),
        x => x.to_string(),
    }
}

/// Timeline lines of a run.
pub fn lines(w: &Smmuv3) -> Vec<Line> {
    w.trace
        .entries
        .iter()
        .filter_map(|e: &Entry<Ev>| match e.ev {
            Ev::Snap(s) => Some(Line::Wide(snap_text(&s))),
            ref ev => text(ev).map(|t| Line::Cell {
                t: e.t,
                who: e.who,
                text: t,
            }),
        })
        .collect()
}

/// The queue state now.
pub fn state_now(w: &Smmuv3) -> String {
    snap_text(&w.snap_now())
}

impl View for Smmuv3Model {
    const TITLE: &'static str =
        "ARM SMMUv3 command queue, drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c";
    const NAME_WIDTH: usize = 18;
    const HW_COLUMN: &'static str = "SMMU / devices / env";

    /// Each CMD_SYNC timeout is a dev_err() line: many of them mean a console storm.
    fn notes(w: &Smmuv3, o: &mut String) {
        if w.sync_timeouts > 0 {
            let _ = writeln!(o, "  CMD_SYNC timeout printed {} times", w.sync_timeouts);
        }
    }

    fn lines(w: &Smmuv3) -> Vec<Line> {
        lines(w)
    }

    fn state_now(w: &Smmuv3) -> String {
        state_now(w)
    }
}
