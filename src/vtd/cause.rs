//! Signature causes: why a CPU of the VT-d model waits, in a few stable words (`ats-timeout`,
//! `ite-walk-missed-wait`, `queue-leak`, ...). Triage and suppressions match on them, so each
//! names the mechanism, not the symptom.

use super::hw::{self, DevState, Phase};
use super::world::{st, IteClearer, Vtd};
use crate::sim::cpu::Run;

impl Vtd {
    /// Why `cpu` is waiting, as a stable signature field.
    pub(crate) fn why(&self, cpu: u8) -> &'static str {
        let c = &self.m.cpus[cpu as usize];
        if c.run == Run::Hung {
            return c.hang_reason_code();
        }
        let ats_stuck = self.hw.inflight().iter().any(|f| {
            matches!(f.phase, Phase::Sent { .. })
                && (self.hw.devs[f.desc.dev as usize].state != DevState::Ok || !self.hw.tes)
        });
        let h = self.hist[cpu as usize];
        let retry = match h.ite_dev.map(|d| self.hw.devs[d as usize]) {
            _ if !self.hw.tes => "ite-retry-te-off",
            Some(d) if !d.present() => "ite-retry-absent",
            Some(d) if d.state == DevState::Hung => "ite-retry-hung",
            _ => "ite-retry",
        };
        // An ATS request that can never be answered explains any wait first.
        // A retry against an endpoint that answers again is the protocol working: the long
        // wait is the accepted ATS timeout, not a retry loop.
        if c.func == "dmar_disable_qi" {
            return "drain-timeout";
        }
        if h.queue_full {
            // Space held by a submission whose device-TLB invalidation is timing out is the
            // accepted ATS wait seen from another CPU.
            return if ats_stuck {
                "ats-timeout"
            } else {
                self.why_queue_full()
            };
        }
        if ats_stuck || h.waited_ats {
            return if h.restarts > 0 && retry != "ite-retry" {
                retry
            } else {
                "ats-timeout"
            };
        }
        let polling = c.func == "qi_submit_sync" && c.site == crate::sim::clock::Site::Relax;
        let lost = if polling {
            self.why_wait_lost(cpu)
        } else {
            "spin"
        };
        if lost != "wait-lost" && lost != "spin" {
            return lost;
        }
        if h.restarts > 0 {
            return retry;
        }
        lost
    }

    /// Why a CPU waiting for free slots cannot get them: `free_tail` stuck on a slot that no
    /// live submission owns (leaked) or on one a live submission still holds.
    fn why_queue_full(&self) -> &'static str {
        let t = self.qi.free_tail as usize;
        let reclaimable = match self.v.reclaim {
            super::variants::Reclaim::FreeOnly => st::QI_FREE,
            super::variants::Reclaim::DoneOrAbort => st::QI_DONE,
        };
        let owner = self.owner[t];
        let owned = owner != 0 && self.subs.get(owner as usize).is_some_and(|s| s.live);
        if !owned && self.qi.status[t] != reclaimable && self.qi.status[t] != st::QI_ABORT {
            "queue-leak"
        } else {
            "queue-full"
        }
    }

    /// Why the wait a polling CPU waits for can never complete.
    fn why_wait_lost(&self, cpu: u8) -> &'static str {
        let sub = self.subs.iter().rev().find(|s| s.cpu == cpu && s.live);
        let dropped =
            sub.is_some_and(|s| s.wait_dropped && self.qi.status[s.wait as usize] == st::QI_IN_USE);
        if dropped && self.hw.fsts & hw::fsts::ITE == 0 {
            return match self.ite_clearer {
                IteClearer::Walk => "ite-walk-missed-wait",
                IteClearer::Direct => "ite-cleared-unmarked",
                IteClearer::Irq => "ite-cleared-by-irq",
                IteClearer::None => "wait-dropped",
            };
        }
        if self.hw.fsts & hw::fsts::IQE != 0 {
            return "iqe-unrepaired";
        }
        if !self.hw.qies {
            return "qi-disabled";
        }
        "wait-lost"
    }
}

/// Short codes for the reasons `Cx::hang` is given.
trait HangCode {
    fn hang_reason_code(&self) -> &'static str;
}

impl HangCode for crate::sim::cpu::CpuState {
    fn hang_reason_code(&self) -> &'static str {
        if self.hang_reason.contains("walk") {
            "ite-walk-endless"
        } else {
            "hung"
        }
    }
}
