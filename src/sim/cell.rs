//! The cell the world lives in while the CPUs' driver code and the executor take turns with it.
//!
//! Driver code borrows the world between two yield points and never across one; the executor
//! borrows it between polls. So no two borrows of which one is mutable are ever alive at once,
//! and a checked `RefCell` would only ever find its flag clear. A debug build (`cargo test`, the
//! fuzz targets built with `--debug-assertions`) keeps the `RefCell`, which panics on the first
//! borrow that breaks the rule; a release build (`bench`, `explore`, campaigns) leaves the flag
//! out: about ten borrows a step, each a load, a compare and two stores.

#[cfg(not(debug_assertions))]
use std::cell::UnsafeCell;
#[cfg(debug_assertions)]
use std::cell::{Ref, RefCell, RefMut};

/// A shared borrow of the world.
#[cfg(debug_assertions)]
pub type Shr<'a, W> = Ref<'a, W>;
/// A mutable borrow of the world.
#[cfg(debug_assertions)]
pub type Mut<'a, W> = RefMut<'a, W>;
/// A shared borrow of the world.
#[cfg(not(debug_assertions))]
pub type Shr<'a, W> = ShrRef<'a, W>;
/// A mutable borrow of the world.
#[cfg(not(debug_assertions))]
pub type Mut<'a, W> = MutRef<'a, W>;

/// A shared borrow of the world in a release build: a plain reference in a guard, as `Ref` is,
/// so the code that holds one is the same in both builds.
#[cfg(not(debug_assertions))]
pub struct ShrRef<'a, W>(&'a W);

#[cfg(not(debug_assertions))]
impl<W> std::ops::Deref for ShrRef<'_, W> {
    type Target = W;
    #[inline(always)]
    fn deref(&self) -> &W {
        self.0
    }
}

/// A mutable borrow of the world in a release build: a plain reference, held as a `RefMut` is
/// (`let mut w = cx.w()`), so the code is the same in both builds.
#[cfg(not(debug_assertions))]
pub struct MutRef<'a, W>(&'a mut W);

#[cfg(not(debug_assertions))]
impl<W> std::ops::Deref for MutRef<'_, W> {
    type Target = W;
    #[inline(always)]
    fn deref(&self) -> &W {
        self.0
    }
}

#[cfg(not(debug_assertions))]
impl<W> std::ops::DerefMut for MutRef<'_, W> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut W {
        self.0
    }
}

/// The world's cell (see the module comment for why release builds do not check borrows).
#[derive(Debug)]
pub struct Shared<W> {
    #[cfg(debug_assertions)]
    inner: RefCell<W>,
    #[cfg(not(debug_assertions))]
    inner: UnsafeCell<W>,
}

impl<W> Shared<W> {
    /// A cell holding `w`.
    pub const fn new(w: W) -> Self {
        Shared {
            #[cfg(debug_assertions)]
            inner: RefCell::new(w),
            #[cfg(not(debug_assertions))]
            inner: UnsafeCell::new(w),
        }
    }

    /// The world, the cell given up.
    pub fn into_inner(self) -> W {
        self.inner.into_inner()
    }

    /// Borrows the world to read it.
    #[cfg(debug_assertions)]
    #[inline(always)]
    pub fn borrow(&self) -> Shr<'_, W> {
        self.inner.borrow()
    }

    /// Borrows the world to change it.
    #[cfg(debug_assertions)]
    #[inline(always)]
    pub fn borrow_mut(&self) -> Mut<'_, W> {
        self.inner.borrow_mut()
    }

    /// Borrows the world to read it.
    #[cfg(not(debug_assertions))]
    #[inline(always)]
    pub fn borrow(&self) -> Shr<'_, W> {
        // SAFETY: one thread; no mutable borrow is alive while this one is (the rule the debug
        // build's RefCell enforces on every test and fuzz run).
        #[allow(unsafe_code)]
        ShrRef(unsafe { &*self.inner.get() })
    }

    /// Borrows the world to change it.
    #[cfg(not(debug_assertions))]
    #[inline(always)]
    pub fn borrow_mut(&self) -> Mut<'_, W> {
        // SAFETY: one thread; no other borrow is alive while this one is (the rule the debug
        // build's RefCell enforces on every test and fuzz run).
        #[allow(unsafe_code)]
        MutRef(unsafe { &mut *self.inner.get() })
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::Shared;

    /// The rule the release build relies on is checked in a debug build: a second borrow while
    /// a mutable one is alive panics instead of aliasing.
    #[test]
    fn a_borrow_that_breaks_the_rule_panics_in_a_debug_build() {
        let c = Shared::new(1u32);
        *c.borrow_mut() += 1;
        assert_eq!(*c.borrow(), 2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _w = c.borrow_mut();
            let _r = c.borrow();
        }));
        assert!(r.is_err(), "an overlapping borrow must panic");
    }
}
