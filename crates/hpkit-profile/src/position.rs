//! Where the main thread *was* when the sampling signal arrived.
//!
//! The sample itself is taken at the next bytecode boundary where CPython runs signal
//! handlers. Those boundaries are few: a loop's backward jump and calls. In the book's
//! Julia loop both sit on the `while` line, so a sample read there would charge every
//! tick to that one line. So the signal first goes to a small C-level handler chained in
//! front of CPython's: it records the interrupted frame's code object and instruction
//! (two loads from the thread's own interpreter frame), then calls CPython's handler,
//! which schedules the Python-level one. When that one takes the sample, the innermost
//! frame's line comes from the recorded instruction if the frame is still in the same
//! code object - as py-spy reads it from outside, without ptrace.
//!
//! Reading an interpreter frame needs the layout of CPython's private structs, which
//! changes between minor versions. [`LAYOUTS`] holds those of 3.11, 3.12 and 3.13, and
//! the one in use is checked against the C API on a live frame before use
//! ([`calibrate`]); on another version, or where it does not match, the line is the one
//! at the boundary.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::ffi;

/// Where a thread's current interpreter frame and its instruction are, in bytes.
#[derive(Clone, Copy)]
struct Layout {
    /// `PyThreadState.cframe` (3.11, 3.12) or `.current_frame` (3.13).
    tstate_frame: usize,
    /// `_PyCFrame.current_frame`, when the thread state points at a `_PyCFrame`.
    cframe_current: Option<usize>,
    /// `_PyInterpreterFrame.f_code` (`f_executable` in 3.13).
    iframe_code: usize,
    /// `_PyInterpreterFrame.prev_instr` (`instr_ptr` in 3.13).
    iframe_instr: usize,
}

/// Read off each version's headers, and checked on a live frame by [`calibrate`].
const LAYOUTS: [((u8, u8), Layout); 3] = [
    (
        (3, 11),
        Layout {
            tstate_frame: 56,
            cframe_current: Some(8),
            iframe_code: 32,
            iframe_instr: 56,
        },
    ),
    (
        (3, 12),
        Layout {
            tstate_frame: 56,
            cframe_current: Some(0),
            iframe_code: 0,
            iframe_instr: 56,
        },
    ),
    (
        (3, 13),
        Layout {
            tstate_frame: 72,
            cframe_current: None,
            iframe_code: 0,
            iframe_instr: 56,
        },
    ),
];
/// `PyFrameObject.f_frame`, the same in 3.11 to 3.13.
const FRAMEOBJECT_IFRAME: usize = 24;
static TSTATE_FRAME: AtomicUsize = AtomicUsize::new(0);
/// `cframe_current + 1`, or 0 for none (read without a lock in the signal handler).
static CFRAME_CURRENT: AtomicUsize = AtomicUsize::new(0);
static IFRAME_CODE: AtomicUsize = AtomicUsize::new(0);
static IFRAME_INSTR: AtomicUsize = AtomicUsize::new(0);

static ENABLED: AtomicBool = AtomicBool::new(false);
/// Offset of the first code unit (`co_code_adaptive`) in a code object, found by
/// [`calibrate`].
static CODE_START: AtomicUsize = AtomicUsize::new(0);
static MAIN_TSTATE: AtomicPtr<ffi::PyThreadState> = AtomicPtr::new(std::ptr::null_mut());
/// The last recorded position: code object address and instruction byte offset.
static LAST_CODE: AtomicUsize = AtomicUsize::new(0);
static LAST_OFFSET: AtomicI64 = AtomicI64::new(-1);
/// CPython's handler for the signal, called after ours.
static PREVIOUS: Mutex<Option<(c_int, libc::sigaction)>> = Mutex::new(None);
static PREVIOUS_HANDLER: AtomicUsize = AtomicUsize::new(0);

unsafe fn read_ptr(base: *const u8, offset: usize) -> *const u8 {
    std::ptr::read_volatile(base.add(offset) as *const *const u8)
}

/// The thread's current interpreter frame, by `layout`.
unsafe fn current_iframe(
    tstate: *const u8,
    frame_at: usize,
    cframe_current: Option<usize>,
) -> *const u8 {
    let first = read_ptr(tstate, frame_at);
    match cframe_current {
        Some(_) if first.is_null() => first,
        Some(offset) => read_ptr(first, offset),
        None => first,
    }
}

/// Check `version`'s layout against the C API on the calling thread's own frame and, if
/// it holds, enable position recording for `tstate` (the main thread's).
///
/// # Safety
/// GIL held, called from the thread owning `tstate`.
pub unsafe fn calibrate(tstate: *mut ffi::PyThreadState, version: (u8, u8)) -> bool {
    ENABLED.store(false, Ordering::Release);
    let Some(&(_, layout)) = LAYOUTS.iter().find(|(v, _)| *v == version) else {
        return false;
    };
    if tstate.is_null() {
        return false;
    }
    let frame = ffi::PyThreadState_GetFrame(tstate);
    if frame.is_null() {
        return false;
    }
    let code = ffi::PyFrame_GetCode(frame) as *const u8;
    let lasti = ffi::PyFrame_GetLasti(frame);
    let iframe = read_ptr(frame as *const u8, FRAMEOBJECT_IFRAME);
    let ok = !iframe.is_null()
        && current_iframe(
            tstate as *const u8,
            layout.tstate_frame,
            layout.cframe_current,
        ) == iframe
        && read_ptr(iframe, layout.iframe_code) == code
        && lasti >= 0;
    let mut start = 0usize;
    if ok {
        let prev = read_ptr(iframe, layout.iframe_instr) as usize;
        start = prev
            .wrapping_sub(lasti as usize)
            .wrapping_sub(code as usize);
    }
    ffi::Py_DECREF(code as *mut ffi::PyObject);
    ffi::Py_DECREF(frame as *mut ffi::PyObject);
    // co_code_adaptive sits after a fixed header of a few hundred bytes.
    if !ok || !(64..=1024).contains(&start) {
        return false;
    }
    CODE_START.store(start, Ordering::Release);
    TSTATE_FRAME.store(layout.tstate_frame, Ordering::Release);
    CFRAME_CURRENT.store(
        layout.cframe_current.map_or(0, |o| o + 1),
        Ordering::Release,
    );
    IFRAME_CODE.store(layout.iframe_code, Ordering::Release);
    IFRAME_INSTR.store(layout.iframe_instr, Ordering::Release);
    MAIN_TSTATE.store(tstate, Ordering::Release);
    ENABLED.store(true, Ordering::Release);
    true
}

/// Put our handler in front of the one installed for `signal` (CPython's).
pub fn chain_handler(signal: c_int) -> bool {
    let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    if previous.is_some() {
        return false;
    }
    // SAFETY: sigaction with valid pointers; our handler is async-signal-safe.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
            return false;
        }
        if old.sa_flags & libc::SA_SIGINFO != 0
            || old.sa_sigaction == libc::SIG_DFL
            || old.sa_sigaction == libc::SIG_IGN
        {
            return false; // not CPython's plain handler: leave the signal alone
        }
        PREVIOUS_HANDLER.store(old.sa_sigaction, Ordering::Release);
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = on_signal as *const () as usize;
        ours.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigemptyset(&mut ours.sa_mask);
        if libc::sigaction(signal, &ours, std::ptr::null_mut()) != 0 {
            return false;
        }
        *previous = Some((signal, old));
    }
    true
}

/// Give the signal back to the handler it had.
pub fn unchain_handler() {
    ENABLED.store(false, Ordering::Release);
    let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((signal, old)) = previous.take() {
        // SAFETY: restoring the sigaction read in chain_handler.
        unsafe { libc::sigaction(signal, &old, std::ptr::null_mut()) };
    }
}

extern "C" fn on_signal(signal: c_int) {
    if ENABLED.load(Ordering::Acquire) {
        // SAFETY: the loads follow pointers of the interrupted main thread's own state,
        // which hold while it holds the GIL (checked first); only atomics are written.
        unsafe { record() };
    }
    let previous = PREVIOUS_HANDLER.load(Ordering::Acquire);
    if previous != 0 {
        // SAFETY: `previous` is the plain handler read from sigaction in chain_handler.
        let handler: extern "C" fn(c_int) = unsafe { std::mem::transmute(previous) };
        handler(signal);
    }
}

unsafe fn record() {
    let main = MAIN_TSTATE.load(Ordering::Acquire);
    // The interrupted thread is the main thread; only when it holds the GIL is its
    // current frame the one running bytecode.
    if ffi::PyGILState_GetThisThreadState() != main
        || ffi::compat::PyThreadState_GetUnchecked() != main
    {
        LAST_CODE.store(0, Ordering::Release);
        return;
    }
    let cframe_current = match CFRAME_CURRENT.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n - 1),
    };
    let frame_at = TSTATE_FRAME.load(Ordering::Relaxed);
    let iframe = current_iframe(main as *const u8, frame_at, cframe_current);
    if iframe.is_null() {
        LAST_CODE.store(0, Ordering::Release);
        return;
    }
    let code = read_ptr(iframe, IFRAME_CODE.load(Ordering::Relaxed)) as usize;
    let prev = read_ptr(iframe, IFRAME_INSTR.load(Ordering::Relaxed)) as usize;
    let offset = prev as i64 - (code + CODE_START.load(Ordering::Relaxed)) as i64;
    LAST_OFFSET.store(offset, Ordering::Relaxed);
    LAST_CODE.store(code, Ordering::Release);
}

/// The instruction byte offset the main thread was at when the signal arrived, if it
/// was in `code` then (taken once: the next call answers `None`).
pub fn recorded_offset(code: *mut ffi::PyObject) -> Option<i32> {
    let recorded = LAST_CODE.swap(0, Ordering::AcqRel);
    if recorded == 0 || recorded != code as usize {
        return None;
    }
    i32::try_from(LAST_OFFSET.load(Ordering::Relaxed))
        .ok()
        .filter(|&o| o >= 0)
}
