//! The kernel primitives driver code awaits most (`raw_spin_lock[_irqsave]`,
//! `raw_spin_unlock[_irqrestore]`, `local_irq_restore`) as small hand-written futures. Each does at each poll exactly what the `async fn` it replaces did between its yield
//! points, so every trace is the same; but a poll loop awaits three or four of them a round, and
//! an `async fn` nests a state machine of its own around the yield, built and torn down on every
//! call, where these are one match on a byte.

use super::clock::Site;
use super::cpu::{Cx, HasMachine};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `raw_spin_lock(l)`, or `raw_spin_lock_irqsave(l, flags)` when `irqsave`: interrupts go off
/// (irqsave), then the CPU yields at the lock, which the executor runs it past only once the
/// lock is free; then it takes it. Yields whether interrupts were off before (irqsave).
pub struct SpinLock<'a, W> {
    cx: Cx<'a, W>,
    l: u8,
    irqsave: bool,
    flags: bool,
    waited: bool,
}

impl<'a, W> SpinLock<'a, W> {
    pub(super) fn new(cx: Cx<'a, W>, l: u8, irqsave: bool) -> Self {
        SpinLock {
            cx,
            l,
            irqsave,
            flags: false,
            waited: false,
        }
    }
}

impl<W: HasMachine> Future for SpinLock<'_, W> {
    type Output = bool;
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<bool> {
        let s = self.get_mut();
        if !s.waited {
            if s.irqsave {
                s.flags = s.cx.irq_save();
            }
            s.cx.set_site(Site::Lock(s.l));
            s.waited = true;
            return Poll::Pending;
        }
        s.cx.take_lock(s.l);
        Poll::Ready(s.flags)
    }
}

/// Where a [`Release`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// About to yield before the lock's release.
    Start,
    /// Next: release the lock (if any), restore interrupts (if asked).
    Release,
    /// Yielded where the interrupt this CPU owes strikes.
    Owed,
}

/// `raw_spin_unlock(l)` (a yield, then the release), then `local_irq_restore(flags)` when
/// `restore` holds flags; or `local_irq_restore(flags)` alone, with no lock and no yield
/// before it. Restoring yields once more only when turning interrupts on makes this CPU take
/// the device interrupt (see [`Cx::irq_restore`]).
pub struct Release<'a, W> {
    cx: Cx<'a, W>,
    lock: Option<u8>,
    restore: Option<bool>,
    stage: Stage,
}

impl<'a, W> Release<'a, W> {
    /// `raw_spin_unlock[_irqrestore]()` of lock `l`.
    pub(super) fn unlock(cx: Cx<'a, W>, l: u8, restore: Option<bool>) -> Self {
        Release {
            cx,
            lock: Some(l),
            restore,
            stage: Stage::Start,
        }
    }

    /// `local_irq_restore(flags)`.
    pub(super) fn irq_restore(cx: Cx<'a, W>, flags: bool) -> Self {
        Release {
            cx,
            lock: None,
            restore: Some(flags),
            stage: Stage::Release,
        }
    }
}

impl<W: HasMachine> Future for Release<'_, W> {
    type Output = ();
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let s = self.get_mut();
        match s.stage {
            Stage::Start => {
                s.cx.set_site(Site::Mem);
                s.stage = Stage::Release;
                Poll::Pending
            }
            Stage::Release => {
                if let Some(l) = s.lock {
                    s.cx.release_lock(l);
                }
                match s.restore {
                    Some(flags) if s.cx.irq_restore_now(flags) => {
                        s.cx.set_site(Site::Mem);
                        s.stage = Stage::Owed;
                        Poll::Pending
                    }
                    _ => Poll::Ready(()),
                }
            }
            Stage::Owed => Poll::Ready(()),
        }
    }
}
