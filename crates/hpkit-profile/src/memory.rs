//! Allocator hooks: which lines allocate and free Python memory, at sampling cost.
//!
//! `PyMem_SetAllocator` wraps CPython's three allocator domains (raw, mem, object), so
//! every `malloc`/`calloc`/`realloc`/`free` the interpreter makes passes through here
//! first. Recording a Python stack per allocation would cost far more than the
//! allocation (the book's Julia loop makes a hundred million), so allocations are
//! sampled by bytes, as tcmalloc and Go's heap profiler do: a countdown drawn from an
//! exponential distribution with mean `sample_bytes` is decremented by each allocation's
//! size, and the allocation that takes it below zero is recorded with weight
//! `sample_bytes` times the number of intervals it crossed. Every byte is thus sampled
//! with probability `1 / sample_bytes`, so bytes per line are unbiased estimates whose
//! relative error shrinks with the square root of the samples. The fast path is one
//! subtraction; frees are checked against the sampled set through a 64 Ki-slot counting
//! filter, so an unsampled free costs one load.
//!
//! A sampled pointer remembers its stack row and weight: its free (or realloc) moves the
//! weight out of the live estimate and charges it to the line that freed it. The live
//! estimate's maximum is the peak. Allocations made without the GIL (raw domain, from a
//! thread in C code) are counted but have no Python stack.
//!
//! numpy array data is allocated by numpy's own handler (plain `malloc`), not through
//! these domains, so it is not seen here; the RSS timeline shows it.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

use pyo3::ffi;

use crate::frames::capture;
use crate::session::{enter, CURRENT};

const DOMAINS: [ffi::PyMemAllocatorDomain; 3] = [
    ffi::PyMemAllocatorDomain::PYMEM_DOMAIN_RAW,
    ffi::PyMemAllocatorDomain::PYMEM_DOMAIN_MEM,
    ffi::PyMemAllocatorDomain::PYMEM_DOMAIN_OBJ,
];

/// One wrapped domain: the allocator it forwards to and its own countdown.
struct Domain {
    original: ffi::PyMemAllocatorEx,
    countdown: AtomicI64,
    /// The raw domain is called without the GIL, from any thread.
    raw: bool,
}

// SAFETY: `original` is written once, before the hooks are installed, and only read after.
unsafe impl Sync for Domain {}
unsafe impl Send for Domain {}

static HOOKS: OnceLock<[Domain; 3]> = OnceLock::new();
static SAMPLE_BYTES: AtomicU64 = AtomicU64::new(0);
static RNG: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
/// Live and peak estimated bytes, as f64 bits.
static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static UNATTRIBUTED: AtomicU64 = AtomicU64::new(0);
/// Set while a mem/object-domain hook calls the allocator it wraps: pymalloc hands large
/// blocks to the raw domain, which must not count them a second time. A plain flag, not
/// a thread-local, because those domains run under the GIL (a raw allocation from another
/// thread in that window is missed, a rare and small loss).
static NESTED: AtomicBool = AtomicBool::new(false);

const FILTER_SLOTS: usize = 1 << 16;
/// How many sampled live pointers hash to each slot (saturating at 255, then sticky).
static FILTER: [AtomicU8; FILTER_SLOTS] = [const { AtomicU8::new(0) }; FILTER_SLOTS];
/// Sampled live pointers: address -> (allocation row or u32::MAX, weight).
static SAMPLED: SpinLock<Option<HashMap<usize, (u32, f64)>>> = SpinLock::new(None);

const NO_ROW: u32 = u32::MAX;
const DISABLED: i64 = i64::MAX;

/// Start sampling allocations every `sample_bytes` bytes on average, installing the
/// hooks on first use.
///
/// # Safety
/// GIL held.
pub unsafe fn enable(sample_bytes: u64) {
    let hooks = HOOKS.get_or_init(|| {
        DOMAINS.map(|domain| {
            let mut original = ffi::PyMemAllocatorEx {
                ctx: std::ptr::null_mut(),
                malloc: None,
                calloc: None,
                realloc: None,
                free: None,
            };
            // SAFETY: GIL held; reading the current allocator.
            unsafe { ffi::PyMem_GetAllocator(domain, &mut original) };
            Domain {
                original,
                countdown: AtomicI64::new(DISABLED),
                raw: matches!(domain, ffi::PyMemAllocatorDomain::PYMEM_DOMAIN_RAW),
            }
        })
    });
    *SAMPLED.lock() = Some(HashMap::new());
    store_f64(&LIVE, 0.0);
    store_f64(&PEAK, 0.0);
    store_f64(&UNATTRIBUTED, 0.0);
    SAMPLE_BYTES.store(sample_bytes, Ordering::Release);
    for (domain, hook) in DOMAINS.iter().zip(hooks) {
        hook.countdown
            .store(next_interval(sample_bytes), Ordering::Release);
        let mut ours = ffi::PyMemAllocatorEx {
            ctx: hook as *const Domain as *mut c_void,
            malloc: Some(hook_malloc),
            calloc: Some(hook_calloc),
            realloc: Some(hook_realloc),
            free: Some(hook_free),
        };
        let mut current = ours;
        ffi::PyMem_GetAllocator(*domain, &mut current);
        if current.ctx != ours.ctx {
            ffi::PyMem_SetAllocator(*domain, &mut ours);
        }
    }
}

/// Stop sampling. The hooks stay installed (another tool may have wrapped them since,
/// and memory allocated through them is freed through them) but cost one subtraction.
pub fn disable() {
    SAMPLE_BYTES.store(0, Ordering::Release);
    if let Some(hooks) = HOOKS.get() {
        for hook in hooks {
            hook.countdown.store(DISABLED, Ordering::Release);
        }
    }
    *SAMPLED.lock() = None;
    for slot in &FILTER {
        slot.store(0, Ordering::Relaxed);
    }
}

/// In a forked child: the parent's sampled pointers are the parent's story.
pub fn after_fork_child() {
    SAMPLED.force_unlock();
    let bytes = SAMPLE_BYTES.load(Ordering::Acquire);
    disable();
    if bytes > 0 {
        *SAMPLED.lock() = Some(HashMap::new());
        store_f64(&LIVE, 0.0);
        store_f64(&PEAK, 0.0);
        SAMPLE_BYTES.store(bytes, Ordering::Release);
        if let Some(hooks) = HOOKS.get() {
            for hook in hooks {
                hook.countdown
                    .store(next_interval(bytes), Ordering::Release);
            }
        }
    }
}

pub fn live_heap() -> f64 {
    load_f64(&LIVE)
}

pub fn peak_heap() -> f64 {
    load_f64(&PEAK)
}

pub fn unattributed_bytes() -> f64 {
    load_f64(&UNATTRIBUTED)
}

fn domain(ctx: *mut c_void) -> &'static Domain {
    // SAFETY: ctx is the &'static Domain given to PyMem_SetAllocator in `enable`.
    unsafe { &*(ctx as *const Domain) }
}

extern "C" fn hook_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    let d = domain(ctx);
    let f = d.original.malloc.expect("allocator without malloc");
    let p = d.call(|| f(d.original.ctx, size));
    if !p.is_null() && d.counts() {
        d.count(p, size);
    }
    p
}

extern "C" fn hook_calloc(ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    let d = domain(ctx);
    let f = d.original.calloc.expect("allocator without calloc");
    let p = d.call(|| f(d.original.ctx, nelem, elsize));
    if !p.is_null() && d.counts() {
        d.count(p, nelem.saturating_mul(elsize));
    }
    p
}

extern "C" fn hook_realloc(ctx: *mut c_void, ptr: *mut c_void, size: usize) -> *mut c_void {
    let d = domain(ctx);
    let f = d.original.realloc.expect("allocator without realloc");
    let old = if ptr.is_null() {
        None
    } else {
        take_sampled(ptr)
    };
    let p = f(d.original.ctx, ptr, size);
    if p.is_null() {
        if let Some(record) = old {
            insert_sampled(ptr, record); // a failed realloc leaves the old block alive
        }
        return p;
    }
    if let Some(record) = old {
        released(record, d.raw);
    }
    d.count(p, size);
    p
}

extern "C" fn hook_free(ctx: *mut c_void, ptr: *mut c_void) {
    let d = domain(ctx);
    if !ptr.is_null() && d.counts() {
        if let Some(record) = take_sampled(ptr) {
            released(record, d.raw);
        }
    }
    let f = d.original.free.expect("allocator without free");
    d.call(|| f(d.original.ctx, ptr));
}

impl Domain {
    /// Call the wrapped allocator, marking a mem/object-domain call as in progress.
    #[inline(always)]
    fn call<T>(&self, f: impl FnOnce() -> T) -> T {
        if self.raw {
            return f();
        }
        NESTED.store(true, Ordering::Relaxed);
        let out = f();
        NESTED.store(false, Ordering::Relaxed);
        out
    }

    /// False for a raw-domain call made by pymalloc on behalf of another domain.
    #[inline(always)]
    fn counts(&self) -> bool {
        !(self.raw && NESTED.load(Ordering::Relaxed))
    }

    #[inline(always)]
    fn count(&self, p: *mut c_void, size: usize) {
        let size = size as i64;
        let left = if self.raw {
            self.countdown.fetch_sub(size, Ordering::Relaxed) - size
        } else {
            // Mem and object domains run under the GIL: no read-modify-write needed.
            let left = self.countdown.load(Ordering::Relaxed) - size;
            self.countdown.store(left, Ordering::Relaxed);
            left
        };
        if left <= 0 {
            self.sampled(p, size, left);
        }
    }

    #[cold]
    #[inline(never)]
    fn sampled(&self, p: *mut c_void, size: i64, mut left: i64) {
        let mean = SAMPLE_BYTES.load(Ordering::Acquire);
        if mean == 0 {
            self.countdown.store(DISABLED, Ordering::Relaxed);
            return;
        }
        let mut crossings = 0u32;
        let mut added = 0i64;
        while left <= 0 {
            let step = next_interval(mean);
            left += step;
            added += step;
            crossings += 1;
        }
        if self.raw {
            self.countdown.fetch_add(added, Ordering::Relaxed);
        } else {
            self.countdown.store(left, Ordering::Relaxed);
        }
        let Some(_busy) = enter() else { return };
        let weight = f64::from(crossings) * mean as f64;
        // SAFETY: PyGILState_Check only reads thread state.
        let gil = !self.raw || unsafe { ffi::PyGILState_Check() } == 1;
        let row = if gil {
            // SAFETY: GIL held and this thread is marked busy.
            unsafe { record_stack(weight, size.max(1) as f64) }
        } else {
            NO_ROW
        };
        if row == NO_ROW {
            add_f64(&UNATTRIBUTED, weight);
        }
        insert_sampled(p, (row, weight));
        let live = add_f64(&LIVE, weight);
        if live > load_f64(&PEAK) {
            store_f64(&PEAK, live);
        }
    }
}

/// Charge `weight` bytes to the current thread's Python stack; its row, or NO_ROW.
///
/// # Safety
/// GIL held, thread marked busy.
unsafe fn record_stack(weight: f64, size: f64) -> u32 {
    let inner = CURRENT.load(Ordering::Acquire);
    if inner.is_null() {
        return NO_ROW;
    }
    let tstate = ffi::PyThreadState_Get();
    let row = with_quiet_interpreter(|| {
        let data = (*inner).data();
        let mut stack = std::mem::take(&mut data.stack);
        let row = match capture(tstate, &mut data.frames, &mut stack) {
            Some(_) => {
                let slot = data.threads.slot(tstate);
                data.allocs.index(slot, 0, &stack)
            }
            None => None, // no Python frame: the thread is starting or ending
        };
        data.stack = stack;
        if let Some(i) = row {
            let v = data.allocs.value_mut(i);
            v.bytes += weight;
            v.count += weight / size;
            v.live += weight;
        }
        row
    });
    row.map_or(NO_ROW, |i| i as u32)
}

/// Run `f` with the garbage collector paused and any pending exception set aside:
/// reading a stack creates frame objects, and a collection started from inside an
/// allocator could run arbitrary finalisers in the middle of the interpreter's work.
unsafe fn with_quiet_interpreter<T>(f: impl FnOnce() -> T) -> T {
    let mut exc = [std::ptr::null_mut(); 3];
    #[allow(deprecated)]
    ffi::PyErr_Fetch(&mut exc[0], &mut exc[1], &mut exc[2]);
    let gc_was_on = ffi::PyGC_Disable();
    let out = f();
    if gc_was_on == 1 {
        ffi::PyGC_Enable();
    }
    ffi::PyErr_Restore(exc[0], exc[1], exc[2]);
    out
}

fn take_sampled(p: *mut c_void) -> Option<(u32, f64)> {
    let slot = &FILTER[filter_slot(p)];
    let n = slot.load(Ordering::Relaxed);
    if n == 0 {
        return None;
    }
    let mut sampled = SAMPLED.lock();
    let record = sampled.as_mut()?.remove(&(p as usize))?;
    if n < u8::MAX {
        slot.store(n - 1, Ordering::Relaxed);
    }
    Some(record)
}

/// Remember a sampled live block (and count it in the free-path filter).
fn insert_sampled(p: *mut c_void, record: (u32, f64)) {
    let mut sampled = SAMPLED.lock();
    if let Some(map) = sampled.as_mut() {
        map.insert(p as usize, record);
        let slot = &FILTER[filter_slot(p)];
        let n = slot.load(Ordering::Relaxed);
        if n < u8::MAX {
            slot.store(n + 1, Ordering::Relaxed);
        }
    }
}

/// A sampled block went away: out of the live estimate, charged to the freeing line.
fn released((row, weight): (u32, f64), raw: bool) {
    add_f64(&LIVE, -weight);
    let Some(_busy) = enter() else { return };
    // SAFETY: PyGILState_Check only reads thread state.
    if raw && unsafe { ffi::PyGILState_Check() } != 1 {
        return;
    }
    let inner = CURRENT.load(Ordering::Acquire);
    if inner.is_null() {
        return;
    }
    // SAFETY: GIL held and this thread is marked busy.
    unsafe {
        with_quiet_interpreter(|| {
            let data = (*inner).data();
            if row != NO_ROW && (row as usize) < data.allocs.rows().len() {
                data.allocs.value_mut(row as usize).live -= weight;
            }
            let mut stack = std::mem::take(&mut data.stack);
            if capture(ffi::PyThreadState_Get(), &mut data.frames, &mut stack).is_some() {
                if let Some(&leaf) = stack.last() {
                    *data.freed.entry(leaf).or_default() += weight;
                }
            }
            data.stack = stack;
        });
    }
}

#[inline(always)]
fn filter_slot(p: *mut c_void) -> usize {
    // Fibonacci hashing of the address (its low 4 bits are always 0).
    ((p as usize as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// An exponentially distributed byte count with the given mean (at least 1).
fn next_interval(mean: u64) -> i64 {
    // xorshift64*: statistically fine for sampling intervals, and lock-free.
    let mut x = RNG.load(Ordering::Relaxed);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    RNG.store(x, Ordering::Relaxed);
    let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
    let u = (bits as f64 + 0.5) / (1u64 << 53) as f64; // in (0, 1)
    ((-u.ln() * mean as f64) as i64).max(1)
}

fn load_f64(a: &AtomicU64) -> f64 {
    f64::from_bits(a.load(Ordering::Relaxed))
}

fn store_f64(a: &AtomicU64, v: f64) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

fn add_f64(a: &AtomicU64, v: f64) -> f64 {
    let mut old = a.load(Ordering::Relaxed);
    loop {
        let new = f64::from_bits(old) + v;
        match a.compare_exchange_weak(old, new.to_bits(), Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return new,
            Err(x) => old = x,
        }
    }
}

/// A minimal spin lock: the sampled set is touched for microseconds, from allocator
/// hooks that must not block on a lock a forked child could inherit held.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: std::cell::UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: std::cell::UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> SpinGuard<'_, T> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        SpinGuard { lock: self }
    }

    /// After fork: the thread that held the lock does not exist in the child.
    pub fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> std::ops::Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> std::ops::DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_intervals_are_exponential_with_the_given_mean() {
        let mean = 256 * 1024;
        let n = 200_000;
        let draws: Vec<i64> = (0..n).map(|_| next_interval(mean)).collect();
        assert!(draws.iter().all(|&d| d >= 1));
        let avg = draws.iter().sum::<i64>() as f64 / n as f64;
        assert!((avg / mean as f64 - 1.0).abs() < 0.01, "mean {avg}");
        // An exponential's median is ln 2 times its mean.
        let mut sorted = draws;
        sorted.sort_unstable();
        let median = sorted[n / 2] as f64 / mean as f64;
        assert!(
            (median - std::f64::consts::LN_2).abs() < 0.01,
            "median {median}"
        );
    }

    #[test]
    fn atomic_f64_adds() {
        let a = AtomicU64::new(0);
        store_f64(&a, 1.5);
        assert_eq!(add_f64(&a, 2.25), 3.75);
        assert_eq!(load_f64(&a), 3.75);
    }
}
