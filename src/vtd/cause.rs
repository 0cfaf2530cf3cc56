//! Signature causes: why a CPU of the VT-d model waits, in a few stable words (`ats-timeout`,
//! `ite-walk-missed-wait`, `queue-leak`, ...). Triage and suppressions match on them, so each
//! names the mechanism, not the symptom.

use super::hw::{self, DevState, Phase};
use super::world::{st, IteClearer, Vtd};
use crate::sim::clock::Site;
use crate::sim::cpu::Run;

impl Vtd {
    /// Why `cpu` is waiting, as a stable signature field.
    pub(crate) fn why(&self, cpu: u8) -> &'static str {
        self.why_at(cpu, self.m.ncpus)
    }

    /// `why`, following spinlock holders and the CPUs a suspend waits for at most `hops` times.
    fn why_at(&self, cpu: u8, hops: u8) -> &'static str {
        let c = &self.m.cpus[cpu as usize];
        if c.run == Run::Hung {
            return c.hang_reason_code();
        }
        // A CPU spinning on a spinlock (`q_lock`, `device_domain_lock`) waits for whatever keeps
        // the holder inside its critical section, not for anything of its own.
        if let Some(holder) = self.lock_holder(cpu as usize).filter(|_| hops > 0) {
            return self.why_at(holder as u8, hops - 1);
        }
        if self.hist[cpu as usize].offline_wait {
            // Suspend waits for what keeps the first CPU still online inside its operation.
            let busy = (0..self.m.ncpus).find(|&o| {
                o != cpu && matches!(self.m.cpus[o as usize].run, Run::Running | Run::Hung)
            });
            if let Some(o) = busy.filter(|&o| !self.hist[o as usize].offline_wait && hops > 0) {
                return self.why_at(o, hops - 1);
            }
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
            if ats_stuck {
                return self.retry_loop().unwrap_or("ats-timeout");
            }
            // Between two rounds of a retry loop no request is in flight, but the loop's
            // submissions still hold the space; a leaked slot is named as such.
            return match self.why_queue_full() {
                "queue-full" => self.retry_loop().unwrap_or("queue-full"),
                other => other,
            };
        }
        let ats = if h.restarts > 0 && retry != "ite-retry" {
            retry
        } else {
            "ats-timeout"
        };
        if ats_stuck {
            return self.retry_loop().unwrap_or(ats);
        }
        if self.iqe_storm() {
            return "iqe-cleared-by-irq";
        }
        let polling = c.func == "qi_submit_sync" && c.site == Site::Relax;
        let lost = if polling {
            self.why_wait_lost(cpu)
        } else {
            "spin"
        };
        if self.overwritten && matches!(lost, "wait-lost" | "spin" | "ite-walk-missed-wait") {
            // After a slot was written over before the engine fetched it, IQH, IQT and the ring
            // no longer agree: an ITE walk over [IQT, IQH) or a wait that never completes
            // follows from that, not from the walk itself.
            return "overwritten";
        }
        if lost != "wait-lost" && lost != "spin" {
            // What stops the wait now outranks a timeout it sat through earlier.
            return lost;
        }
        // An ATS timeout waited out earlier in the operation explains where its time went;
        // a later restart after a timeout of an answering endpoint does not.
        if h.waited_ats || h.op_waited_ats {
            // Between two rounds of a retry loop no request is in flight, but the loop goes on.
            return self.retry_loop().unwrap_or(ats);
        }
        if h.restarts > 0 {
            return retry;
        }
        lost
    }

    /// The retry cause of an endless loop another live submission is in: it restarted after a
    /// timeout of an endpoint that still cannot answer. A CPU waiting out an ATS timeout
    /// meanwhile (its own first round, or a request queued behind that loop's) is one more
    /// turn of it, not a single accepted timeout. A hung endpoint's loop is named first: it
    /// has no bound, an absent one's ends at the owner's -ETIMEDOUT.
    fn retry_loop_elsewhere(&self) -> Option<&'static str> {
        let mut out = None;
        for c in 0..self.m.ncpus as usize {
            let h = self.hist[c];
            let live = self.subs.iter().any(|s| s.live && s.cpu as usize == c);
            let Some(d) = h.ite_dev.filter(|_| live && h.restarts > 0) else {
                continue;
            };
            let d = self.hw.devs[d as usize];
            let r = if !self.hw.tes {
                "ite-retry-te-off"
            } else if !d.present() {
                "ite-retry-absent"
            } else if d.state == DevState::Hung {
                return Some("ite-retry-hung");
            } else {
                continue;
            };
            out = out.or(Some(r));
        }
        out
    }

    /// The retry loop a wait on an unanswerable ATS request is one more turn of: a live
    /// submission's (see `retry_loop_elsewhere`), or else the loop the whole queue is in once a
    /// present but hung endpoint has timed out twice in the run. Each of its timeouts makes
    /// `qi_check_fault()` walk and abort every pending wait, so every submitter restarts and
    /// sends to it again (crashes/finding-hung-device-retry): the rounds go on with no bound,
    /// and the one a run ends in may be a call that has not restarted yet, waiting on a
    /// request of an earlier call to another endpoint that cannot answer either.
    fn retry_loop(&self) -> Option<&'static str> {
        self.retry_loop_elsewhere().or_else(|| {
            let looping = (0..self.hw.ndevs as usize).any(|d| {
                let dev = self.hw.devs[d];
                dev.state == DevState::Hung && dev.present() && self.ats_timeouts[d] >= 2
            });
            (looping && self.hw.tes).then_some("ite-retry-hung")
        })
    }

    /// The IQE form of the fault handler's write-back (spec D1, before bd5cdad0c8e0): it
    /// cleared an IQE nobody repaired and IQH still rests on the invalid descriptor, so the
    /// engine raises IQE again and the handler clears it again; the owner's `qi_check_fault()`
    /// sees it only if it reads FSTS in between.
    fn iqe_storm(&self) -> bool {
        let iqh = self.hw.iqh;
        self.iqe_cleared_by_irq && iqh != self.hw.iqt && self.hw.ring[iqh as usize].invalid
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
        if let Some(s) = sub {
            let sid = s.wait;
            if self.qi.status[sid as usize] == st::QI_IN_USE
                && self.hw.fsts & hw::fsts::QI_MASK == 0
                && !self.write_pending(sid)
            {
                // Nothing the engine holds or will fetch writes the wait's status.
                // If the wait is still in its slot, outside [IQH, IQT): an IQT write moved the
                // tail a whole ring ahead of the engine, which took the ring for empty and
                // skipped what lay between (slots freed before the engine fetched them).
                let d = self.hw.ring[sid as usize];
                if d.ty == hw::DescType::Wait && d.sw && d.status == sid {
                    return "iqt-overrun";
                }
            }
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
