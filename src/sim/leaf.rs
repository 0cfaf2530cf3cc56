//! The kernel primitives driver code awaits most (`raw_spin_lock[_irqsave]`,
//! `raw_spin_unlock[_irqrestore]`, `local_irq_restore`, `cpu_relax`) as small hand-written
//! futures. Each does at each poll exactly what the `async fn` it replaces did between its yield
//! points, so every trace is the same; but a poll loop awaits three or four of them a round, and
//! an `async fn` nests a state machine of its own around the yield, built and torn down on every
//! call, where these are one match on a byte.

use super::clock::{Site, Time};
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

/// Where a [`SpinUnlock`] or an [`IrqRestore`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Start,
    /// Yielded before the release.
    Released,
    /// Yielded where the interrupt this CPU owes strikes.
    Owed,
}

/// `raw_spin_unlock(l)`, then `local_irq_restore(flags)` when `restore` holds flags: a yield
/// before the release, and one more only when turning interrupts on makes this CPU take the
/// device interrupt (see [`Cx::irq_restore`]).
pub struct SpinUnlock<'a, W> {
    cx: Cx<'a, W>,
    l: u8,
    restore: Option<bool>,
    stage: Stage,
}

impl<'a, W> SpinUnlock<'a, W> {
    pub(super) fn new(cx: Cx<'a, W>, l: u8, restore: Option<bool>) -> Self {
        SpinUnlock {
            cx,
            l,
            restore,
            stage: Stage::Start,
        }
    }
}

impl<W: HasMachine> Future for SpinUnlock<'_, W> {
    type Output = ();
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let s = self.get_mut();
        match s.stage {
            Stage::Start => {
                s.cx.set_site(Site::Mem);
                s.stage = Stage::Released;
                Poll::Pending
            }
            Stage::Released => {
                s.cx.release_lock(s.l);
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

/// `local_irq_restore(flags)`: yields only when this CPU now owes the device interrupt.
pub struct IrqRestore<'a, W> {
    cx: Cx<'a, W>,
    flags: bool,
    stage: Stage,
}

impl<'a, W> IrqRestore<'a, W> {
    pub(super) fn new(cx: Cx<'a, W>, flags: bool) -> Self {
        IrqRestore {
            cx,
            flags,
            stage: Stage::Start,
        }
    }
}

impl<W: HasMachine> Future for IrqRestore<'_, W> {
    type Output = ();
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let s = self.get_mut();
        debug_assert!(
            s.stage != Stage::Released,
            "an irq restore releases no lock"
        );
        if s.stage == Stage::Start && s.cx.irq_restore_now(s.flags) {
            s.cx.set_site(Site::Mem);
            s.stage = Stage::Owed;
            return Poll::Pending;
        }
        Poll::Ready(())
    }
}

/// `cpu_relax()` in a polling loop, parked until shared state changes or `wake_at` (see
/// [`Cx::cpu_relax_until`]).
pub struct Relax<'a, W> {
    cx: Cx<'a, W>,
    wake_at: Time,
    waited: bool,
}

impl<'a, W> Relax<'a, W> {
    pub(super) fn new(cx: Cx<'a, W>, wake_at: Time) -> Self {
        Relax {
            cx,
            wake_at,
            waited: false,
        }
    }
}

impl<W: HasMachine> Future for Relax<'_, W> {
    type Output = ();
    #[inline]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let s = self.get_mut();
        if s.waited {
            return Poll::Ready(());
        }
        s.cx.relax_park(s.wake_at);
        s.waited = true;
        Poll::Pending
    }
}
