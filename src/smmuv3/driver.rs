//! The Linux SMMUv3 command-queue driver, line for line with
//! drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c (6.18.y @ 6c3dcfd01987, which has df180b1a4cc5):
//! `arm_smmu_cmdq_issue_cmdlist` with the lock-free reservation (cmpxchg on the llq word, the
//! owned flag, the valid bitmap, the `owner_prod` hand-off), the cmdq shared/exclusive lock
//! before and after df180b1a4cc5, the space and CMD_SYNC polls with their 1 s timeout, the
//! GERROR handler with `__arm_smmu_cmdq_skip_err`, and `arm_smmu_device_disable`. Every access
//! to shared state is preceded by a yield point; interrupts go off and on exactly where the
//! kernel's `local_irq_save`/`restore` are. Writes to the driver's own words (`sw`: the llq
//! word, lock, valid map, `owner_prod`) use `touch_driver_only`: the model's actions never
//! read them, so only spinners need waking.

use super::backoff;
use super::hw::{cerror, cr0, gerror, Cmd, Cs, Opcode};
use super::variants::{Design, Variant};
use super::world::{tag, Ev, Llq, Smmuv3, OWNED, STARVE_BYPASS, SYNC_IDX};
use crate::oracle::Class;
use crate::sim::clock::{Site, Time, SEC};
use crate::sim::cpu::{Cx, Quiet, Yield};
use crate::sim::trace::Actor;

/// `-ETIMEDOUT`.
pub const ETIMEDOUT: i32 = -110;
/// `CMDQ_BATCH_ENTRIES`.
pub const CMDQ_BATCH_ENTRIES: usize = 64;
/// `ARM_SMMU_POLL_TIMEOUT_US` in virtual time.
pub const POLL_TIMEOUT: Time = SEC;
/// Limit on every spin loop. A loop that spins without virtual time passing is ended long
/// before this by the executor's step budget; one that waits on timeouts by the time budget.
const SPIN_LIMIT: u32 = 1 << 22;

/// The CPU handle of the SMMUv3 model.
pub type Cpu<'a> = Cx<'a, Smmuv3>;

/// `Q_IDX | Q_WRP` arithmetic on a queue of `len` slots.
#[derive(Clone, Copy)]
struct Ring {
    len: u32,
}

impl Ring {
    fn of(cx: &Cpu<'_>) -> Ring {
        Ring {
            len: cx.w().hw.len(),
        }
    }
    fn idx(self, p: u32) -> u32 {
        p & (self.len - 1)
    }
    fn wrp(self, p: u32) -> u32 {
        p & self.len
    }
    /// `queue_inc_prod_n`: keeps the overflow (owned) bit, wraps index and wrap bit.
    fn inc(self, p: u32, n: u32) -> u32 {
        let m = (self.len << 1) - 1;
        (p & OWNED) | ((p & m) + n) & m
    }
    /// `queue_has_space`, in the kernel's u32 arithmetic: once llq.cons has been published
    /// past PROD (the MSI-timeout finding) the subtractions wrap, as they do in C.
    fn has_space(self, l: Llq, n: u32) -> bool {
        let (p, c) = (self.idx(l.prod), self.idx(l.cons));
        // u32 arithmetic as in the kernel: when a published cons has overtaken prod (see the
        // MSI-timeout finding) the subtraction wraps there too.
        let space = if self.wrp(l.prod) == self.wrp(l.cons) {
            self.len.wrapping_sub(p.wrapping_sub(c))
        } else {
            c.wrapping_sub(p)
        };
        space >= n
    }
    /// `queue_full`.
    fn full(self, l: Llq) -> bool {
        self.idx(l.prod) == self.idx(l.cons) && self.wrp(l.prod) != self.wrp(l.cons)
    }
    /// `queue_consumed`: CONS has passed `prod`.
    fn consumed(self, cons: u32, prod: u32) -> bool {
        let same = self.wrp(cons) == self.wrp(prod);
        (same && self.idx(cons) > self.idx(prod)) || (!same && self.idx(cons) <= self.idx(prod))
    }
}

fn variant(cx: &Cpu<'_>) -> &'static Variant {
    cx.w().v
}

/// `cpu_relax()` (or WFE, or the udelay back-off) in a loop whose exit depends only on shared
/// state the caller has just read: until some actor changes shared state, the next iteration
/// would read the same, so the CPU parks at once until then or until `wake_at` (0: no
/// timeout). Returns the yield point the caller awaits at once (a plain function, not one
/// more future level polled on every step of a spin): the loop's next read happens there.
pub fn relax_parked(cx: &Cpu<'_>, wake_at: Time) -> Yield {
    {
        let mut w = cx.w();
        let m = &mut w.m;
        let v = m.version;
        let c = &mut m.cpus[cx.id as usize];
        c.relax_version = v;
        c.park_version = Some(v);
        c.wake_at = wake_at;
    }
    cx.at(Site::Relax)
}

/// `queue_poll()` with WFE (the SMMU has SEV, as the model's has): -ETIMEDOUT once the 1 s
/// budget is spent (checked first), else sleep until an event: a change of shared state (the
/// SEV of a CMD_SYNC) or the deadline. The MSI wait has WFE off: [`super::backoff`].
pub async fn queue_poll(cx: &Cpu<'_>, deadline: Time) -> i32 {
    if cx.now() > deadline {
        return ETIMEDOUT;
    }
    relax_parked(cx, deadline + 1).await;
    0
}

/// `queue_poll()` in a loop whose next read will not see what the caller just checked: the
/// wait ends at once (WFE finds the event of the SEV already sent, or the `cpu_relax()` and
/// `udelay()` back-off re-reads within microseconds), so the CPU takes one step, unparked.
async fn queue_poll_once(cx: &Cpu<'_>, deadline: Time) -> i32 {
    if cx.now() > deadline {
        return ETIMEDOUT;
    }
    {
        let mut w = cx.w();
        let c = &mut w.m.cpus[cx.id as usize];
        c.park_version = None;
        c.wake_at = 0;
    }
    cx.at(Site::Relax).await;
    0
}

/// `arm_smmu_cmdq_shared_lock()`: increment; behind an exclusive holder, wait until the value
/// turns positive (df180b1a4cc5) or, before it, until non-negative and then cmpxchg(val, val+1).
async fn shared_lock(cx: &Cpu<'_>) {
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        let old = w.sw.lock;
        w.sw.lock = old.wrapping_add(1);
        w.m.touch_driver_only();
        if old >= 0 {
            return;
        }
        let e = w.excl;
        w.hist[cx.id as usize].shared_wait = Some(e);
        w.ev(Ev::SharedWait);
    }
    if variant(cx).fair_lock {
        spin_until(cx, |w| w.sw.lock > 0).await;
    } else {
        shared_lock_cmpxchg(cx).await;
    }
    cx.w().hist[cx.id as usize].shared_wait = None;
}

/// The pre-df180b1a4cc5 slow path: the first increment may have been erased by the exclusive
/// unlock's store of 0, so take a shared reference by cmpxchg once the lock looks free.
async fn shared_lock_cmpxchg(cx: &Cpu<'_>) {
    for _ in 0..SPIN_LIMIT {
        spin_until(cx, |w| w.sw.lock >= 0).await;
        let val = cx.w().sw.lock;
        cx.at(Site::Mem).await;
        let mut w = cx.w();
        if w.sw.lock == val {
            w.sw.lock = val + 1;
            w.m.touch_driver_only();
            return;
        }
    }
    cx.hang("shared_lock cmpxchg never succeeds").await;
}

/// `atomic_cond_read_relaxed`: spins until `f` holds.
async fn spin_until(cx: &Cpu<'_>, f: impl Fn(&Smmuv3) -> bool) {
    cx.at(Site::Mem).await;
    for _ in 0..SPIN_LIMIT {
        if f(&cx.w()) {
            return;
        }
        relax_parked(cx, 0).await;
    }
    cx.hang("condition never becomes true").await;
}

/// `arm_smmu_cmdq_shared_unlock()`.
async fn shared_unlock(cx: &Cpu<'_>) {
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    w.sw.lock -= 1;
    w.m.touch_driver_only();
}

/// `arm_smmu_cmdq_shared_tryunlock()`: fails (keeping the lock) when the caller looks like
/// the last holder. The read and the decrement are separate atomics.
async fn shared_tryunlock(cx: &Cpu<'_>) -> bool {
    cx.at(Site::Mem).await;
    if cx.w().sw.lock == 1 {
        return false;
    }
    shared_unlock(cx).await;
    true
}

/// `arm_smmu_cmdq_exclusive_trylock_irqsave()`: Some(flags) when cmpxchg(0, INT_MIN) won.
/// The section it opens is quiet (see `Quiet`): the caller's refresh of `llq.cons` may leave
/// shared state as it was.
async fn exclusive_trylock_irqsave(cx: &Cpu<'_>) -> Option<(bool, Quiet)> {
    let flags = cx.irq_save();
    cx.at(Site::Mem).await;
    let won = {
        let mut w = cx.w();
        if w.sw.lock == 0 {
            let mut q = w.m.quiet_begin();
            w.sw.lock = i32::MIN;
            w.m.quiet_touch(&mut q);
            note_exclusive(&mut w);
            Some(q)
        } else {
            None
        }
    };
    match won {
        Some(q) => Some((flags, q)),
        None => {
            cx.irq_restore(flags).await;
            None
        }
    }
}

/// Starvation ghost: a shared locker that watched the exclusive lock being taken
/// `STARVE_BYPASS` times after it started waiting can be bypassed forever (C2).
fn note_exclusive(w: &mut Smmuv3) {
    w.excl += 1;
    let n = w.excl;
    w.ev(Ev::ExclLock(n));
    let n = w.m.ncpus as usize;
    for c in 0..n {
        if let Some(since) = w.hist[c].shared_wait {
            let by = w.excl - since;
            if by >= STARVE_BYPASS {
                let msg = format!(
                    "cpu{c} waits in arm_smmu_cmdq_shared_lock (interrupts off, its CMD_SYNC \
                     written but not yet marked valid) while the exclusive lock was taken {by} \
                     times by others: its increment was erased and it can be bypassed forever"
                );
                w.violate(
                    Class::Starvation,
                    "arm_smmu_cmdq_shared_lock",
                    "bypassed",
                    msg,
                );
            }
        }
    }
}

/// `arm_smmu_cmdq_exclusive_unlock_irqrestore()`: clear the sign bit (df180b1a4cc5) or store
/// 0 (before), then restore interrupts.
/// Closes the quiet section: the lock word is back to 0 unless a shared locker came in.
async fn exclusive_unlock_irqrestore(cx: &Cpu<'_>, flags: bool, mut q: Quiet, refreshed: bool) {
    cx.at(Site::Mem).await;
    {
        let mut w = cx.w();
        w.sw.lock = if w.v.fair_lock {
            w.sw.lock & i32::MAX
        } else {
            0
        };
        w.m.quiet_touch(&mut q);
        let v = w.sw.lock;
        // Only a CPU waiting in shared_lock reads the lock word in its loop.
        let unseen = !w.shared_waiter();
        w.m.quiet_end(q, v == 0 && !refreshed, unseen);
        w.ev(Ev::ExclUnlock(v));
    }
    cx.irq_restore(flags).await;
}

/// `arm_smmu_cmdq_poll_until_not_full()`: refresh the shadow cons under the exclusive lock, or
/// wait (1 s) for someone else to make room.
async fn poll_until_not_full(cx: &Cpu<'_>, r: Ring, llq: &mut Llq) -> i32 {
    if let Some((flags, mut q)) = exclusive_trylock_irqsave(cx).await {
        cx.at(Site::Mmio).await;
        let cons = cx.w().hw.read_cons();
        cx.at(Site::Mem).await;
        let refreshed = {
            let mut w = cx.w();
            // Storing the value already there is no write anyone can see: spinners parked on
            // llq stay parked.
            let changed = w.sw.cons != cons;
            w.sw.cons = cons;
            if changed {
                w.m.quiet_touch(&mut q);
            }
            w.ev(Ev::ConsRefresh(cons));
            changed
        };
        exclusive_unlock_irqrestore(cx, flags, q, refreshed).await;
        cx.at(Site::Mem).await;
        *llq = cx.w().sw.llq();
        return 0;
    }
    let deadline = cx.now() + POLL_TIMEOUT;
    cx.at(Site::Mem).await;
    for _ in 0..SPIN_LIMIT {
        *llq = cx.w().sw.llq();
        if !r.full(*llq) {
            return 0;
        }
        if queue_poll(cx, deadline).await != 0 {
            return ETIMEDOUT;
        }
    }
    ETIMEDOUT
}

/// Step 1: reserve `k` slots by cmpxchg on the llq word, waiting for space with interrupts
/// restored. Returns the old and new llq values and the irq flags.
async fn reserve(cx: &Cpu<'_>, r: Ring, k: u32, mut flags: bool) -> (Llq, Llq, bool) {
    cx.at(Site::Mem).await;
    let mut llq = cx.w().sw.llq();
    // `atc_fired` when the space wait began (None: no wait yet).
    let mut fired = None;
    let mut prev = None;
    for _ in 0..SPIN_LIMIT {
        if !r.has_space(llq, k) {
            if fired.is_none() {
                let mut w = cx.w();
                w.ev(Ev::QueueFull);
                w.hist[cx.id as usize].space_wait = true;
                fired = Some(w.atc_fired);
            }
            cx.irq_restore(flags).await;
            if poll_until_not_full(cx, r, &mut llq).await != 0 {
                cx.w().ev(Ev::CmdqTimeout);
            } else if !r.has_space(llq, k) && prev == Some(llq) && !cx.w().shared_waiter() {
                // "Not full" is not "room for k": the kernel loops straight back without a
                // cpu_relax(). An iteration that saw the same llq as the previous one repeats
                // identically, so the CPU is parked until some other actor changes shared
                // state. Not while a CPU waits in shared_lock: there the exclusive lock
                // flips of this loop are what the other CPU sees (and, before df180b1a4cc5,
                // what erases its increment).
                relax_parked(cx, 0).await;
            }
            prev = Some(llq);
            flags = cx.irq_save();
            continue;
        }
        let head = Llq {
            prod: r.inc(llq.prod, k) | OWNED,
            cons: llq.cons,
        };
        cx.at(Site::Mem).await;
        let mut w = cx.w();
        if w.sw.llq() == llq {
            w.sw.prod = head.prod;
            w.sw.cons = head.cons;
            w.m.touch_driver_only();
            w.hist[cx.id as usize].space_wait = false;
            if let Some(f) = fired {
                w.note_wait_done(cx.id, f);
            }
            return (llq, head, flags);
        }
        llq = w.sw.llq();
        w.ev(Ev::CasFail);
    }
    cx.hang("llq cmpxchg never succeeds").await;
    unreachable!("hang never returns")
}

/// Step 2: plain stores of the commands (and the CMD_SYNC) into the reserved slots. No other
/// actor may look at [start, end) before the valid bits and PROD say so, so one yield covers
/// the whole copy; the ghost still checks every slot it overwrites. The model's actions see
/// the copy only if it overwrote the entry at CONS (a slot reused too early).
async fn write_entries(cx: &Cpu<'_>, r: Ring, start: u32, cmds: &[Cmd], sync: Option<Cmd>) {
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    let mut p = start;
    let mut at_cons = false;
    for c in cmds {
        at_cons |= w.write_slot(p, *c);
        p = r.inc(p, 1);
    }
    if let Some(s) = sync {
        at_cons |= w.write_slot(p, s);
    }
    if at_cons {
        w.m.touch();
    } else {
        w.m.touch_driver_only();
    }
}

/// `arm_smmu_cmdq_build_sync_cmd()`: MSI into the SYNC's own slot with MSIPOLL, else SEV.
fn build_sync(cx: &Cpu<'_>, sub: u16) -> Cmd {
    let cs = if cx.w().msipoll { Cs::Irq } else { Cs::Sev };
    Cmd {
        tag: tag(sub, SYNC_IDX),
        ..Cmd::sync(cs)
    }
}

/// Visits the valid-map words covering [s, e) as `__arm_smmu_cmdq_poll_set_valid_map` does:
/// (word, mask, wrap bit of the chunk).
fn valid_chunks(r: Ring, s: u32, e: u32, out: &mut [(usize, u64, bool); 8]) -> usize {
    let (ew, eb) = ((r.idx(e) / 64) as usize, r.idx(e) % 64);
    let mut p = s;
    let mut n = 0;
    while p != e {
        assert!(n < out.len(), "valid-map walk longer than the queue");
        let (sw, sb) = ((r.idx(p) / 64) as usize, r.idx(p) % 64);
        let limit = if sw == ew && sb < eb { eb } else { 64 };
        let mask = (u64::MAX >> (64 - limit)) & (u64::MAX << sb);
        out[n] = (sw, mask, r.wrp(p) != 0);
        n += 1;
        p = r.inc(p, limit - sb);
    }
    n
}

/// Step 3: `arm_smmu_cmdq_set_valid_map()`, one atomic xor per word.
async fn set_valid_map(cx: &Cpu<'_>, r: Ring, s: u32, e: u32) {
    let mut ch = [(0, 0, false); 8];
    let n = valid_chunks(r, s, e, &mut ch);
    for &(word, mask, _) in &ch[..n] {
        cx.at(Site::Mem).await;
        let mut w = cx.w();
        w.sw.valid[word] ^= mask;
        w.m.touch_driver_only();
    }
}

/// Step 4c: `arm_smmu_cmdq_poll_valid_map()`: valid is the inverse of the lap's wrap bit.
async fn poll_valid_map(cx: &Cpu<'_>, r: Ring, s: u32, e: u32) {
    let mut ch = [(0, 0, false); 8];
    let n = valid_chunks(r, s, e, &mut ch);
    for &(word, mask, wrap) in &ch[..n] {
        let want = if wrap { 0 } else { mask };
        spin_until(cx, |w| w.sw.valid[word] & mask == want).await;
    }
}

/// Step 4: the owner waits for the previous owner, closes its range, waits for the gathered
/// writers, writes PROD, and hands over.
async fn publish(cx: &Cpu<'_>, r: Ring, start: u32) {
    spin_until(cx, |w| w.sw.owner_prod == start).await;
    cx.at(Site::Mem).await;
    let prod = {
        let mut w = cx.w();
        let p = w.sw.prod;
        w.sw.prod = p & !OWNED;
        w.m.touch_driver_only();
        p & !OWNED
    };
    poll_valid_map(cx, r, start, prod).await;
    cx.at(Site::Mmio).await;
    {
        let mut w = cx.w();
        w.hw.prod = prod;
        w.m.touch();
        w.ev(Ev::Publish(prod));
    }
    cx.at(Site::Mem).await;
    let mut w = cx.w();
    w.sw.owner_prod = prod;
    w.m.touch_driver_only();
}

/// `__arm_smmu_cmdq_poll_until_msi()`: the first word of the SYNC slot becomes 0. Returns the
/// result and what the caller then believes CONS is (past the SYNC, or at it on timeout).
/// `smp_cond_load_relaxed()` around `queue_poll()` without WFE: see [`super::backoff`].
async fn poll_until_msi(cx: &Cpu<'_>, r: Ring, at: u32, sub: u16) -> (i32, u32) {
    let deadline = cx.now() + POLL_TIMEOUT;
    let i = r.idx(at) as usize;
    let written = move |w: &Smmuv3| w.hw.q[i].word0 == 0;
    cx.at(Site::Mem).await;
    for _ in 0..SPIN_LIMIT {
        if written(&cx.w()) {
            return (0, r.inc(at, 1));
        }
        if cx.now() > deadline {
            cx.w()
                .ghost_sync_timeout(sub, "__arm_smmu_cmdq_poll_until_msi");
            return (ETIMEDOUT, at);
        }
        backoff::wait(cx, deadline, written).await;
    }
    (ETIMEDOUT, at)
}

/// `__arm_smmu_cmdq_poll_until_consumed()`: CONS (a full `readl`) passes the SYNC.
async fn poll_until_consumed(cx: &Cpu<'_>, r: Ring, at: u32, sub: u16) -> (i32, u32, u32) {
    let deadline = cx.now() + POLL_TIMEOUT;
    cx.at(Site::Mem).await;
    // The whole llq word is re-read: the caller's llq.prod becomes the shared prod, which is
    // what its "CMD_SYNC timeout at" line then prints.
    let l = cx.w().sw.llq();
    let mut cons = l.cons;
    for _ in 0..SPIN_LIMIT {
        if r.consumed(cons, at) {
            return (0, cons, l.prod);
        }
        // The loop reads CONS after the wait. The first check read the shadow llq instead: if
        // the SMMU moved CONS before this CPU got here, nothing will change again, and parking
        // would sleep out the whole second that real hardware never waits.
        let stale = cx.w().hw.read_cons() != cons;
        let ret = if stale {
            queue_poll_once(cx, deadline).await
        } else {
            queue_poll(cx, deadline).await
        };
        if ret != 0 {
            cx.w()
                .ghost_sync_timeout(sub, "__arm_smmu_cmdq_poll_until_consumed");
            cx.at(Site::Mmio).await;
        }
        cons = cx.w().hw.read_cons();
        if ret != 0 {
            return (ret, cons, l.prod);
        }
    }
    (ETIMEDOUT, cons, l.prod)
}

/// Step 5: wait for our CMD_SYNC, print the timeout, and leave the shared lock; the last
/// waiter out publishes what it learned about CONS.
async fn wait_sync(cx: &Cpu<'_>, r: Ring, at: u32, sub: u16) -> i32 {
    let (msi, fired) = {
        let mut w = cx.w();
        w.ev(Ev::SyncWait(at));
        (w.msipoll, w.atc_fired)
    };
    let (ret, cons, shown) = if msi {
        let (ret, cons) = poll_until_msi(cx, r, at, sub).await;
        (ret, cons, at)
    } else {
        poll_until_consumed(cx, r, at, sub).await
    };
    if ret != 0 {
        sync_timeout(cx, shown).await;
    } else {
        cx.w().note_wait_done(cx.id, fired);
    }
    if !shared_tryunlock(cx).await {
        cx.at(Site::Mem).await;
        {
            let mut w = cx.w();
            w.sw.cons = cons;
            w.m.touch_driver_only();
            w.ev(Ev::ConsShadow(cons));
        }
        shared_unlock(cx).await;
    }
    ret
}

/// "CMD_SYNC timeout at 0x%08x [hwprod 0x%08x, hwcons 0x%08x]" (two relaxed MMIO reads).
async fn sync_timeout(cx: &Cpu<'_>, at: u32) {
    cx.at(Site::Mmio).await;
    let hwprod = cx.w().hw.prod;
    cx.at(Site::Mmio).await;
    let mut w = cx.w();
    let hwcons = w.hw.read_cons();
    w.ev(Ev::SyncTimeout { at, hwprod, hwcons });
    w.note_sync_timeout(cx.id);
    w.snap(Actor::Cpu(cx.id));
}

/// `arm_smmu_cmdq_issue_cmdlist()`: insert `cmds` (plus a CMD_SYNC tagged for batch `sub`)
/// and, with `sync`, wait for it. Interrupts are off throughout except while waiting for space.
pub async fn arm_smmu_cmdq_issue_cmdlist(cx: &Cpu<'_>, cmds: &[Cmd], sync: bool, sub: u16) -> i32 {
    if let Design::Spinlock { msidata_in_lock } = variant(cx).design {
        return super::legacy::issue(cx, cmds, sync, sub, msidata_in_lock).await;
    }
    cx.func("arm_smmu_cmdq_issue_cmdlist");
    let r = Ring::of(cx);
    let n = cmds.len() as u32;
    cx.w().ev(Ev::Issue { n: n as u8, sync });
    let flags = cx.irq_save();
    let (llq, head, flags) = reserve(cx, r, n + u32::from(sync), flags).await;
    let owner = llq.prod & OWNED == 0;
    let (start, end) = (llq.prod & !OWNED, head.prod & !OWNED);
    cx.w().ev(Ev::Reserve { start, end, owner });
    let s = if sync {
        Some(build_sync(cx, sub))
    } else {
        None
    };
    write_entries(cx, r, start, cmds, s).await;
    if sync {
        shared_lock(cx).await;
    }
    set_valid_map(cx, r, start, end).await;
    if owner {
        publish(cx, r, start).await;
    }
    let ret = if sync {
        wait_sync(cx, r, r.inc(start, n), sub).await
    } else {
        0
    };
    cx.irq_restore(flags).await;
    cx.w().ev(Ev::Ret(ret as i8));
    ret
}

/// `struct arm_smmu_cmdq_batch` with its ghost batch id.
pub struct Batch {
    /// `cmds[0..num]`, at most `CMDQ_BATCH_ENTRIES`: the CPU's command buffer, lent by the
    /// world from batch to batch so that no batch allocates or clears a whole array.
    cmds: Vec<Cmd>,
    sub: u16,
}

impl Batch {
    /// `arm_smmu_cmdq_batch_init()`.
    pub fn new(cx: &Cpu<'_>) -> Batch {
        let mut w = cx.w();
        let mut cmds = std::mem::take(&mut w.batch_cmds[cx.id as usize]);
        cmds.clear();
        cmds.reserve_exact(CMDQ_BATCH_ENTRIES);
        Batch {
            cmds,
            sub: w.new_sub(cx.id),
        }
    }

    /// True when no command is pending in the batch.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }
}

/// `arm_smmu_cmdq_batch_add()`: a full batch is issued without a SYNC first.
pub async fn batch_add(cx: &Cpu<'_>, b: &mut Batch, mut c: Cmd) {
    if b.cmds.len() == CMDQ_BATCH_ENTRIES {
        arm_smmu_cmdq_issue_cmdlist(cx, &b.cmds, false, b.sub).await;
        b.cmds.clear();
    }
    let idx = {
        let mut w = cx.w();
        let s = &mut w.subs[b.sub as usize];
        assert!(s.count < SYNC_IDX - 1, "batch larger than the ghost tracks");
        s.count += 1;
        s.count - 1
    };
    c.tag = tag(b.sub, idx);
    b.cmds.push(c);
}

/// `arm_smmu_cmdq_batch_submit()`: the rest plus a CMD_SYNC; the ghost then checks that a
/// success covers every command of the batch. The batch's buffer goes back to the CPU.
pub async fn batch_submit(cx: &Cpu<'_>, b: Batch, func: &'static str) -> i32 {
    let rc = arm_smmu_cmdq_issue_cmdlist(cx, &b.cmds, true, b.sub).await;
    let mut w = cx.w();
    w.ghost_return(b.sub, rc, func);
    w.batch_cmds[cx.id as usize] = b.cmds;
    rc
}

/// `arm_smmu_device_disable()`: CR0 := 0, then poll CR0ACK for 1 s.
pub async fn arm_smmu_device_disable(cx: &Cpu<'_>) {
    cx.func("arm_smmu_device_disable");
    cx.at(Site::Mmio).await;
    {
        let mut w = cx.w();
        w.hw.write_cr0(0);
        w.m.touch();
        w.ev(Ev::Cr0(0));
    }
    let deadline = cx.now() + POLL_TIMEOUT;
    cx.at(Site::Mmio).await;
    for _ in 0..SPIN_LIMIT {
        if cx.w().hw.cr0ack == 0 {
            return;
        }
        if queue_poll(cx, deadline).await != 0 {
            cx.w().ev(Ev::Cr0Fail);
            return;
        }
    }
}

/// `arm_smmu_gerror_handler()` (hard IRQ on `cpu`): SFM disables the SMMU, CMDQ_ERR goes to
/// `__arm_smmu_cmdq_skip_err`, then GERRORN := GERROR acknowledges everything and restarts
/// consumption. Runs as one interrupt step; the error it handles was raised by an earlier one.
pub fn arm_smmu_gerror_handler(w: &mut Smmuv3, cpu: u8) {
    let who = Actor::Irq(cpu);
    let g = w.hw.gerror;
    let active = w.hw.active();
    if active == 0 {
        w.hw.irq_pending = false;
        return;
    }
    w.ev_as(who, Ev::Gerror(active));
    if active & gerror::SFM_ERR != 0 {
        // From hard IRQ; the CR0ACK poll is atomic since eced8058c82a and the model's SMMU
        // acknowledges a disable in Service Failure Mode at once.
        w.hw.write_cr0(0);
        w.hw.ack_cr0();
        w.ev_as(who, Ev::Cr0(0));
    }
    if active & gerror::CMDQ_ERR != 0 {
        skip_err(w, who);
    }
    w.hw.write_gerrorn(g);
    w.ev_as(who, Ev::Gerrorn(g));
}

/// `__arm_smmu_cmdq_skip_err()`: ABT and ATC_INV_SYNC are retried by the acknowledgement; an
/// illegal command is overwritten in place by a CMD_SYNC (CS=SEV), its work silently dropped.
/// It touches neither the shadow llq nor the valid map (concurrent producers).
fn skip_err(w: &mut Smmuv3, who: Actor) {
    let cons = w.hw.read_cons();
    let code = ((cons >> 24) & 0x7f) as u8;
    w.ev_as(who, Ev::SkipErr { cons, code });
    match code {
        cerror::ABT | cerror::NONE | cerror::ATC_INV_SYNC => {}
        _ => {
            let i = w.hw.idx(cons & 0x00ff_ffff);
            w.hw.q[i] = Cmd::sync(Cs::Sev);
            w.owner[i] = 0;
            w.ev_as(who, Ev::SkipIll(cons & 0x00ff_ffff));
        }
    }
    debug_assert!(w.hw.cr0 & cr0::CMDQEN == 0 || w.hw.active() & gerror::CMDQ_ERR != 0);
}

/// One range TLBI as `__arm_smmu_tlb_inv_range` builds it: NUM holds chunks minus one, TTL
/// is known only for leaf invalidations (level 3 of a 4 KiB granule table).
pub fn range_cmd(leaf: bool, scale: u8, num: u8) -> Cmd {
    Cmd {
        range: true,
        scale,
        num: num - 1,
        ttl: if leaf { 3 } else { 0 },
        ..Cmd::new(Opcode::TlbiNhVa, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Ring = Ring { len: 128 };

    fn l(prod: u32, cons: u32) -> Llq {
        Llq { prod, cons }
    }

    #[test]
    fn space_full_and_empty_use_the_wrap_bit() {
        assert!(R.has_space(l(0, 0), 128), "empty queue has every slot");
        assert!(!R.has_space(l(0, 0), 129));
        assert!(R.full(l(128, 0)), "same index, other lap");
        assert!(!R.has_space(l(128, 0), 1));
        assert!(R.has_space(l(130, 5), 3) && !R.has_space(l(130, 5), 4));
        assert!(
            R.has_space(l(5 | OWNED, 5), 128),
            "the owned flag is not an index bit"
        );
        assert!(
            !R.has_space(l(5, 5 | (2 << 24) | 128), 1),
            "ERR bits in cons are ignored"
        );
    }

    #[test]
    fn inc_wraps_and_keeps_the_owned_flag() {
        assert_eq!(R.inc(127, 1), 128);
        assert_eq!(R.inc(255, 1), 0);
        assert_eq!(R.inc(OWNED | 250, 10), OWNED | 4);
    }

    #[test]
    fn consumed_is_wrap_aware() {
        assert!(!R.consumed(5, 5), "CONS at the SYNC has not passed it");
        assert!(R.consumed(6, 5));
        assert!(R.consumed(128, 127), "CONS wrapped past the SYNC");
        assert!(!R.consumed(127, 128 + 3), "previous lap");
        assert!(R.consumed(128 + 4, 128 + 3));
        assert!(
            R.consumed(2, 128 + 127),
            "CONS wrapped to the next lap's start"
        );
    }

    #[test]
    fn valid_map_chunks_cover_exactly_the_range() {
        let mut ch = [(0, 0, false); 8];
        let n = valid_chunks(R, 60, 70, &mut ch);
        assert_eq!(n, 2);
        assert_eq!(ch[0], (0, 0xf << 60, false));
        assert_eq!(ch[1], (1, 0x3f, false));
        let n = valid_chunks(R, 120, 130, &mut ch);
        assert_eq!(n, 2, "wraps into the next lap");
        assert_eq!(ch[0], (1, 0xff << 56, false));
        assert_eq!(ch[1], (0, 0x3, true), "second lap: valid means bit clear");
        assert_eq!(valid_chunks(R, 7, 7, &mut ch), 0);
    }

    #[test]
    fn range_command_is_illegal_only_when_ttl_num_and_scale_are_zero() {
        assert!(
            range_cmd(false, 0, 1).illegal(),
            "one page, non-leaf: the eb6c97647be2 case"
        );
        assert!(!range_cmd(true, 0, 1).illegal(), "leaf has TTL");
        assert!(!range_cmd(false, 1, 1).illegal(), "two pages");
        assert!(!range_cmd(false, 0, 3).illegal());
    }
}
