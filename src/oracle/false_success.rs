//! No-false-success oracle: when a submission returns success, every invalidation it queued was
//! executed by the hardware after it was queued. Success for an invalidation that never ran
//! leaves stale translations behind: a security bug.

/// Checks a returning submission: `rc` its return value, `count` its invalidations, `executed`
/// bit k set when invalidation k ran (in any attempt). Returns the first one that never ran.
pub fn on_return(rc: i32, count: u8, executed: u32) -> Option<u8> {
    if rc != 0 {
        return None;
    }
    (0..count.min(32)).find(|k| executed & (1u32 << k) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_requires_every_invalidation_to_have_run() {
        assert_eq!(on_return(0, 3, 0b111), None);
        assert_eq!(on_return(0, 3, 0b101), Some(1));
        assert_eq!(on_return(0, 0, 0), None);
        assert_eq!(
            on_return(-22, 3, 0),
            None,
            "an error return is not a claim of success"
        );
    }
}
