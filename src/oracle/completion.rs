//! Completion oracle: every completion the hardware signals reaches its own submitter; no slot
//! is freed, reused or overwritten while its owner or the hardware still needs it.
//!
//! The checks take plain facts from a model's ghost state, so every model shares them.

/// Facts about a slot at the moment software writes a new descriptor into it.
#[derive(Clone, Copy, Debug)]
pub struct ClaimFacts {
    /// Another submission that has not left its wait loop owns the slot.
    pub owner_live: bool,
    /// The hardware has not fetched the slot's current content yet.
    pub unfetched: bool,
    /// A fetched or queued completion will still write this slot's status word.
    pub write_pending: bool,
}

/// Writing a new descriptor into a slot.
pub fn on_claim(f: ClaimFacts) -> Option<&'static str> {
    if f.owner_live {
        Some("slot overwritten while its owner still waits on it")
    } else if f.unfetched {
        Some("slot overwritten before the hardware fetched what was queued in it")
    } else if f.write_pending {
        Some("slot reused while a completion for its previous owner is still to be written")
    } else {
        None
    }
}

/// Software marks a slot free. `owner` is the submission owning it (0 = none), `me` the writer.
pub fn on_free(owner: u16, owner_live: bool, me: u16) -> Option<&'static str> {
    if owner != 0 && owner != me && owner_live {
        Some("slot freed by another CPU while its owner still polls it")
    } else {
        None
    }
}

/// The hardware writes a completion for a wait of submission `tag` into a slot owned by `owner`.
pub fn on_status_write(owner: u16, owner_live: bool, tag: u16) -> Option<&'static str> {
    if owner != 0 && owner != tag && owner_live {
        Some("completion of one submission written into a slot another submission polls")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_needs_a_slot_nobody_needs() {
        let ok = ClaimFacts {
            owner_live: false,
            unfetched: false,
            write_pending: false,
        };
        assert!(on_claim(ok).is_none());
        assert!(on_claim(ClaimFacts {
            owner_live: true,
            ..ok
        })
        .is_some());
        assert!(on_claim(ClaimFacts {
            unfetched: true,
            ..ok
        })
        .is_some());
        assert!(on_claim(ClaimFacts {
            write_pending: true,
            ..ok
        })
        .is_some());
    }

    #[test]
    fn only_the_owner_frees_a_live_slot() {
        assert!(on_free(3, true, 3).is_none());
        assert!(on_free(3, false, 4).is_none());
        assert!(on_free(0, false, 4).is_none());
        assert!(on_free(3, true, 4).is_some());
    }

    #[test]
    fn completion_into_someone_elses_live_slot_is_misdirected() {
        assert!(on_status_write(2, true, 2).is_none());
        assert!(on_status_write(0, false, 2).is_none());
        assert!(on_status_write(5, true, 2).is_some());
    }
}
