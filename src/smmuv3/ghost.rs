//! Ghost bookkeeping of the SMMUv3 model: which batch owns each slot, which commands took
//! effect, and the hooks that feed the shared completion and no-false-success oracles.

use super::hw::{Cs, Opcode, Tag};
use super::world::{Smmuv3, SYNC_IDX};
use crate::oracle::{completion, false_success, Class};

impl Smmuv3 {
    fn live(&self, sub: u16) -> bool {
        sub != 0 && self.subs.get(sub as usize).is_some_and(|s| s.live)
    }

    /// A CPU writes a command for batch `tag.sub` at position `p`: the slot's previous content
    /// must have been consumed (CONS is less than one lap behind `p`), and it must not be the
    /// CMD_SYNC another live waiter polls for its MSI.
    pub(crate) fn ghost_claim(&mut self, p: u32, tag: Tag) {
        let i = self.hw.idx(p);
        let mask = (self.hw.len() << 1) - 1;
        let lag = p.wrapping_sub(self.hw.cons) & mask;
        let prev = self.hw.q[i];
        let owner = self.owner[i];
        let facts = completion::ClaimFacts {
            owner_live: prev.op == Opcode::CmdSync
                && prev.cs == Cs::Irq
                && owner != tag.sub
                && self.live(owner),
            unfetched: lag >= self.hw.len(),
            write_pending: false,
        };
        if let Some(why) = completion::on_claim(facts) {
            self.overwritten = true;
            let msg = format!(
                "slot {i} (position {p:#x}, CONS {:#x}): {why}",
                self.hw.cons
            );
            self.violate(
                Class::SlotReuse,
                "arm_smmu_cmdq_issue_cmdlist",
                "claim",
                msg,
            );
        }
    }

    /// The hardware completed the command tagged `tag`.
    pub(crate) fn ghost_executed(&mut self, tag: Tag) {
        if tag.sub == 0 || tag.idx == SYNC_IDX {
            return;
        }
        if let Some(s) = self.subs.get_mut(tag.sub as usize) {
            let k = tag.idx as usize;
            s.executed[k / 32] |= 1 << (k % 32);
        }
    }

    /// The SMMU completed a batch's CMD_SYNC: with CS=IRQ only a landed MSI signals it, else
    /// CONS passing it does.
    pub(crate) fn ghost_sync_done(&mut self, c: super::hw::Consumed, msi: bool) {
        if c.tag.sub == 0 || c.tag.idx != SYNC_IDX || (c.cs == Cs::Irq && !msi) {
            return;
        }
        if let Some(s) = self.subs.get_mut(c.tag.sub as usize) {
            s.sync_done = true;
        }
    }

    /// A CMD_SYNC waiter of batch `sub` gives up: if the SMMU had already signalled its
    /// completion, the completion was lost (overwritten, or taken for someone else's).
    pub(crate) fn ghost_sync_timeout(&mut self, sub: u16, func: &'static str) {
        if !self.subs.get(sub as usize).is_some_and(|s| s.sync_done) {
            return;
        }
        let msg = format!(
            "cpu{} gave up on its CMD_SYNC after 1 s although the SMMU had completed and \
             signalled it: the completion never reached its waiter",
            self.m.current
        );
        self.violate(Class::LostCompletion, func, "sync-lost", msg);
    }

    /// Batch `sub` returns `rc` from its submit: success means every command it queued took
    /// effect.
    pub(crate) fn ghost_return(&mut self, sub: u16, rc: i32, func: &'static str) {
        let s = self.subs[sub as usize];
        self.subs[sub as usize].live = false;
        self.m.progressed();
        for w in 0..8 {
            let n = (s.count as usize).saturating_sub(32 * w).min(32) as u8;
            if let Some(k) = false_success::on_return(rc, n, s.executed[w]) {
                let k = 32 * w + k as usize;
                let msg = format!(
                    "{func} on cpu{} returned 0 but command {k} of {} never took effect on the \
                     SMMU: stale translations stay cached",
                    s.cpu, s.count
                );
                self.violate(Class::FalseSuccess, func, "not-executed", msg);
                return;
            }
        }
    }
}
