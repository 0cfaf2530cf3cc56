//! Ghost bookkeeping of the VT-d model: who owns each slot, which invalidations ran, and the
//! hooks that feed the shared completion and no-false-success oracles.

use super::hw::{DescType, Tag};
use super::world::{Sub, Vtd};
use crate::oracle::{completion, false_success, Class};

impl Vtd {
    fn live(&self, sub: u16) -> bool {
        sub != 0 && self.subs.get(sub as usize).is_some_and(|s| s.live)
    }

    /// True when a wait the hardware holds or has queued will write `desc_status[slot]`.
    pub(crate) fn write_pending(&self, slot: u16) -> bool {
        let fetched = self
            .hw
            .inflight()
            .iter()
            .chain(&self.hw.zombies[..self.hw.nzombies as usize]);
        let in_hw = fetched
            .clone()
            .any(|f| f.desc.ty == DescType::Wait && f.desc.sw && f.desc.status == slot);
        let l = self.qlen();
        let pending = (self.hw.iqt + l - self.hw.iqh) % l;
        let queued = (0..pending).any(|k| {
            let d = self.hw.ring[((self.hw.iqh + k) % l) as usize];
            d.ty == DescType::Wait && d.sw && d.status == slot
        });
        in_hw || queued
    }

    /// A CPU writes a descriptor into `slot` for submission `me`.
    pub(crate) fn ghost_claim(&mut self, slot: u16, me: u16) {
        let owner = self.owner[slot as usize];
        let facts = completion::ClaimFacts {
            owner_live: owner != me && self.live(owner),
            unfetched: self.hw.unfetched(slot),
            write_pending: self.write_pending(slot),
        };
        if let Some(why) = completion::on_claim(facts) {
            // From here on the ring holds what the driver believes free while the engine still
            // fetches it: its pointers no longer describe its content.
            self.overwritten |= facts.unfetched;
            self.violate(
                Class::SlotReuse,
                "qi_submit_sync",
                "claim",
                format!("slot {slot}: {why}"),
            );
        }
    }

    /// A CPU sets `desc_status[slot] := QI_FREE` on behalf of submission `me`.
    pub(crate) fn ghost_free(&mut self, slot: u16, me: u16) {
        let owner = self.owner[slot as usize];
        if let Some(why) = completion::on_free(owner, self.live(owner), me) {
            let who = self.subs[owner as usize].cpu;
            let msg = format!("slot {slot} (owned by cpu{who}): {why}");
            self.violate(Class::SlotReuse, "reclaim_free_desc", "free-other", msg);
        }
    }

    /// The hardware writes QI_DONE into `desc_status[slot]` for a wait tagged `tag`.
    pub(crate) fn ghost_status_write(&mut self, slot: u16, tag: Tag) {
        let owner = self.owner[slot as usize];
        if let Some(why) = completion::on_status_write(owner, self.live(owner), tag.sub) {
            let msg = format!("slot {slot}: {why}");
            self.violate(Class::LostCompletion, "qi_submit_sync", "misdirected", msg);
        }
    }

    /// The submission a descriptor tagged `tag` belongs to and its bit in the per-invalidation
    /// masks; none for untagged descriptors and those past the masks' 32 bits.
    fn tagged(&mut self, tag: Tag) -> Option<(&mut Sub, u32)> {
        let ok = tag.sub != 0 && tag.idx < 32;
        let s = self.subs.get_mut(tag.sub as usize).filter(|_| ok)?;
        Some((s, 1 << tag.idx))
    }

    /// The hardware ran the invalidation tagged `tag`.
    pub(crate) fn ghost_executed(&mut self, tag: Tag) {
        if let Some((s, bit)) = self.tagged(tag) {
            s.executed |= bit;
        }
    }

    /// The ATS request of the device-TLB invalidation tagged `tag` timed out (ITE).
    pub(crate) fn ghost_timed_out(&mut self, tag: Tag) {
        if let Some((s, bit)) = self.tagged(tag) {
            s.timed_out |= bit;
        }
    }

    /// Submission `me` left its wait loop: it no longer needs slots first..=w.
    pub(crate) fn ghost_release(&mut self, first: u16, w: u16, me: u16) {
        let l = self.qlen();
        let mut s = first;
        for _ in 0..l {
            if self.owner[s as usize] == me {
                self.owner[s as usize] = 0;
            }
            if s == w {
                break;
            }
            s = (s + 1) % l;
        }
    }

    /// The CPUs in `mask` were stopped: their submissions need nothing any more.
    pub(crate) fn ghost_stopped(&mut self, mask: u8) {
        for s in self.subs.iter_mut() {
            if mask & (1 << s.cpu) != 0 {
                s.live = false;
            }
        }
        for o in self.owner.iter_mut() {
            if *o != 0 && !self.subs.get(*o as usize).is_some_and(|s| s.live) {
                *o = 0;
            }
        }
    }

    /// Submission `me` returns `rc`.
    pub(crate) fn ghost_return(&mut self, me: u16, rc: i32) {
        let s = self.subs[me as usize];
        self.subs[me as usize].live = false;
        self.m.progressed();
        if let Some(k) = false_success::on_return(rc, s.count, s.executed) {
            // Two ways to return 0 for work never done: the hardware never fetched the
            // invalidation, or it terminated it on an ATS timeout (ITE) and the wait behind it
            // completed anyway. They are different bugs; the cause tells them apart.
            let (cause, how) = if s.timed_out >> k & 1 == 1 {
                ("ite-timed-out", "timed out (ITE) and never completed")
            } else {
                ("not-executed", "never ran on the hardware")
            };
            let msg = format!(
                "qi_submit_sync on cpu{} returned 0 but invalidation {} of {} {how}: \
                 stale translations stay cached",
                s.cpu, k, s.count
            );
            self.violate(Class::FalseSuccess, "qi_submit_sync", cause, msg);
        }
    }
}
