//! Reading Python stacks through the C API, and interning what they name.
//!
//! Every function here needs the GIL (the callers hold it) and calls only C-level
//! accessors: no Python code runs, so they are safe inside the allocator hooks too.

use std::collections::HashMap;
use std::ffi::{c_char, CStr};

use pyo3::ffi;

/// Frame id 0 stands for the frames cut off a stack deeper than [`MAX_DEPTH`].
pub const TRUNCATED: u32 = 0;
/// Deepest stack kept: the innermost frames, under a `<truncated>` root.
pub const MAX_DEPTH: usize = 512;

/// A function as a profile names it.
#[derive(Debug, Clone)]
pub struct FrameInfo {
    pub name: String,
    pub filename: String,
    pub firstlineno: i32,
}

/// One `(frame id, line)` per stack level, root first.
pub type Stack = Vec<(u32, i32)>;

/// Code objects seen so far, each with a strong reference so its address cannot be
/// reused by another code object while the table lives.
pub struct FrameTable {
    by_code: HashMap<usize, u32>,
    infos: Vec<FrameInfo>,
    codes: Vec<*mut ffi::PyObject>,
    bytecode: Vec<Option<Vec<u8>>>,
}

impl Default for FrameTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameTable {
    pub fn new() -> Self {
        FrameTable {
            by_code: HashMap::new(),
            infos: vec![FrameInfo {
                name: "<truncated>".into(),
                filename: String::new(),
                firstlineno: 0,
            }],
            codes: vec![std::ptr::null_mut()],
            bytecode: vec![None],
        }
    }

    pub fn infos(&self) -> &[FrameInfo] {
        &self.infos
    }

    /// The id of `code`, interning it on first sight.
    ///
    /// # Safety
    /// GIL held; `code` is a live code object.
    pub unsafe fn intern(&mut self, code: *mut ffi::PyObject) -> u32 {
        if let Some(&id) = self.by_code.get(&(code as usize)) {
            return id;
        }
        let id = self.infos.len() as u32;
        self.infos.push(FrameInfo {
            name: str_attr(code, c"co_qualname").unwrap_or_else(|| "?".into()),
            filename: str_attr(code, c"co_filename").unwrap_or_default(),
            firstlineno: int_attr(code, c"co_firstlineno").unwrap_or(0),
        });
        ffi::Py_INCREF(code);
        self.codes.push(code);
        self.bytecode.push(None);
        self.by_code.insert(code as usize, id);
        id
    }

    /// The code object of frame `id` (null for the `<truncated>` marker).
    pub fn code(&self, id: u32) -> *mut ffi::PyObject {
        self.codes
            .get(id as usize)
            .copied()
            .unwrap_or(std::ptr::null_mut())
    }

    /// The opcode at byte offset `lasti` of frame `id`'s (unspecialised) bytecode.
    ///
    /// # Safety
    /// GIL held.
    pub unsafe fn opcode_at(&mut self, id: u32, lasti: i32) -> Option<u8> {
        let slot = self.bytecode.get_mut(id as usize)?;
        if slot.is_none() {
            let code = self.codes[id as usize];
            if code.is_null() {
                return None;
            }
            let raw = ffi::PyObject_GetAttrString(code, c"co_code".as_ptr());
            if raw.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let mut data: *mut c_char = std::ptr::null_mut();
            let mut len: ffi::Py_ssize_t = 0;
            if ffi::PyBytes_AsStringAndSize(raw, &mut data, &mut len) == 0 {
                *slot = Some(std::slice::from_raw_parts(data as *const u8, len as usize).to_vec());
            } else {
                ffi::PyErr_Clear();
            }
            ffi::Py_DECREF(raw);
        }
        let bytes = slot.as_ref()?;
        usize::try_from(lasti)
            .ok()
            .and_then(|i| bytes.get(i).copied())
    }

    /// Drop the strong references.
    ///
    /// # Safety
    /// GIL held. In a forked child, call [`FrameTable::forget`] instead.
    pub unsafe fn release(&mut self) {
        for code in self.codes.drain(..) {
            if !code.is_null() {
                ffi::Py_DECREF(code);
            }
        }
        self.by_code.clear();
    }

    /// Keep the references (and the memory) forever: used where decrefs are not safe.
    pub fn forget(&mut self) {
        self.codes.clear();
        self.by_code.clear();
    }
}

/// Where a thread's innermost frame was: which function and which instruction.
pub struct Top {
    pub frame: u32,
    pub lasti: i32,
}

/// Walk `tstate`'s Python frames into `out` (root first). Returns the innermost frame,
/// or `None` for a thread with no Python frame.
///
/// # Safety
/// GIL held; `tstate` is a live thread state of this interpreter.
pub unsafe fn capture(
    tstate: *mut ffi::PyThreadState,
    table: &mut FrameTable,
    out: &mut Stack,
) -> Option<Top> {
    out.clear();
    let mut frame = ffi::PyThreadState_GetFrame(tstate);
    let mut top = None;
    let mut truncated = false;
    while !frame.is_null() {
        if out.len() < MAX_DEPTH {
            let code = ffi::PyFrame_GetCode(frame);
            let id = table.intern(code as *mut ffi::PyObject);
            ffi::Py_DECREF(code as *mut ffi::PyObject);
            let line = ffi::PyFrame_GetLineNumber(frame);
            if top.is_none() {
                top = Some(Top {
                    frame: id,
                    lasti: ffi::PyFrame_GetLasti(frame),
                });
            }
            out.push((id, line));
        } else {
            truncated = true;
        }
        let back = ffi::PyFrame_GetBack(frame);
        ffi::Py_DECREF(frame as *mut ffi::PyObject);
        frame = back;
    }
    if truncated {
        out.push((TRUNCATED, 0));
    }
    out.reverse();
    top
}

/// A Python thread as a profile names it.
pub struct ThreadInfo {
    pub name: String,
    /// The kernel's id for the thread, to read its state in `/proc`.
    pub tid: Option<i32>,
}

/// Names and kernel ids of the interpreter's threads. A thread state is matched to its
/// `threading.Thread` through `sys._current_frames()` (thread ident -> innermost frame)
/// and `threading._active` (ident -> thread), reading instance attributes only, so no
/// Python code runs.
pub struct ThreadTable {
    by_key: HashMap<(u64, usize), u32>,
    infos: Vec<ThreadInfo>,
    unresolved: Vec<bool>,
    lookups: u64,
    active: *mut ffi::PyObject,
}

/// How many lookups of a thread not yet in `threading._active` pass between retries.
const RETRY_EVERY: u64 = 64;

impl ThreadTable {
    /// # Safety
    /// GIL held.
    pub unsafe fn new() -> Self {
        let mut active = std::ptr::null_mut();
        let threading = ffi::PyImport_ImportModule(c"threading".as_ptr());
        if threading.is_null() {
            ffi::PyErr_Clear();
        } else {
            active = ffi::PyObject_GetAttrString(threading, c"_active".as_ptr());
            if active.is_null() {
                ffi::PyErr_Clear();
            }
            ffi::Py_DECREF(threading);
        }
        ThreadTable {
            by_key: HashMap::new(),
            infos: Vec::new(),
            unresolved: Vec::new(),
            lookups: 0,
            active,
        }
    }

    pub fn infos(&self) -> &[ThreadInfo] {
        &self.infos
    }

    /// The slot of the thread owning `tstate`.
    ///
    /// # Safety
    /// GIL held; `tstate` live.
    pub unsafe fn slot(&mut self, tstate: *mut ffi::PyThreadState) -> u32 {
        // The interpreter-unique id tells a new thread from one whose state was freed and
        // whose address was reused.
        let key = (ffi::PyThreadState_GetID(tstate) as u64, tstate as usize);
        if let Some(&slot) = self.by_key.get(&key) {
            if self.unresolved[slot as usize] {
                self.lookups += 1;
                if self.lookups.is_multiple_of(RETRY_EVERY) {
                    if let Some(info) = self.resolve(tstate) {
                        self.infos[slot as usize] = info;
                        self.unresolved[slot as usize] = false;
                    }
                }
            }
            return slot;
        }
        let slot = self.infos.len() as u32;
        match self.resolve(tstate) {
            Some(info) => {
                self.infos.push(info);
                self.unresolved.push(false);
            }
            None => {
                self.infos.push(ThreadInfo {
                    name: format!("Thread {}", key.0),
                    tid: None,
                });
                self.unresolved.push(true);
            }
        }
        self.by_key.insert(key, slot);
        slot
    }

    /// Find `tstate`'s `threading.Thread`: its ident by the identity of its innermost
    /// frame in `sys._current_frames()`, then its name and kernel id.
    unsafe fn resolve(&self, tstate: *mut ffi::PyThreadState) -> Option<ThreadInfo> {
        if self.active.is_null() {
            return None;
        }
        let frame = ffi::PyThreadState_GetFrame(tstate);
        if frame.is_null() {
            return None;
        }
        let current_frames = ffi::PySys_GetObject(c"_current_frames".as_ptr()); // borrowed
        let frames = if current_frames.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::PyObject_CallNoArgs(current_frames)
        };
        let mut ident = None;
        if frames.is_null() {
            ffi::PyErr_Clear();
        } else {
            let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            while ffi::PyDict_Next(frames, &mut pos, &mut key, &mut value) != 0 {
                if value == frame as *mut ffi::PyObject {
                    ident = Some(key); // borrowed from `frames`, used before it is freed
                    break;
                }
            }
        }
        ffi::Py_DECREF(frame as *mut ffi::PyObject);
        let thread = ident.map(|key| ffi::PyDict_GetItem(self.active, key)); // borrowed
        let info = match thread {
            Some(thread) if !thread.is_null() => Some(ThreadInfo {
                name: str_attr(thread, c"_name").unwrap_or_else(|| "Thread".into()),
                tid: int_attr(thread, c"_native_id"),
            }),
            _ => None,
        };
        if !frames.is_null() {
            ffi::Py_DECREF(frames);
        }
        info
    }

    /// # Safety
    /// GIL held.
    pub unsafe fn release(&mut self) {
        if !self.active.is_null() {
            ffi::Py_DECREF(self.active);
            self.active = std::ptr::null_mut();
        }
    }

    pub fn forget(&mut self) {
        self.active = std::ptr::null_mut();
    }
}

unsafe fn str_attr(obj: *mut ffi::PyObject, name: &CStr) -> Option<String> {
    let value = ffi::PyObject_GetAttrString(obj, name.as_ptr());
    if value.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    let mut len: ffi::Py_ssize_t = 0;
    let data = if ffi::PyUnicode_Check(value) != 0 {
        ffi::PyUnicode_AsUTF8AndSize(value, &mut len)
    } else {
        std::ptr::null()
    };
    let out = if data.is_null() {
        ffi::PyErr_Clear();
        None
    } else {
        let bytes = std::slice::from_raw_parts(data as *const u8, len as usize);
        Some(String::from_utf8_lossy(bytes).into_owned())
    };
    ffi::Py_DECREF(value);
    out
}

unsafe fn int_attr(obj: *mut ffi::PyObject, name: &CStr) -> Option<i32> {
    let value = ffi::PyObject_GetAttrString(obj, name.as_ptr());
    if value.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    if ffi::PyLong_Check(value) == 0 {
        ffi::Py_DECREF(value); // None: a thread not started yet
        return None;
    }
    let n = ffi::PyLong_AsLong(value);
    ffi::Py_DECREF(value);
    if n == -1 && !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    i32::try_from(n).ok()
}
