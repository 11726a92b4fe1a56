//! Thread pools: one global rayon pool sized by `HPKIT_NUM_THREADS` (default: every core)
//! and, for an explicit `threads=` argument, one cached pool per requested size, so a call
//! never pays for spawning threads after the first time.

use crate::error::{invalid, KernelError, Result};
use rayon::ThreadPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Threads used when the caller does not say: `HPKIT_NUM_THREADS` if it is a positive
/// integer, otherwise the number of cores the OS gives this process.
pub fn default_threads() -> usize {
    std::env::var("HPKIT_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("hpkit-{i}"))
        .build()
        .map_err(|e| KernelError::Unsupported(format!("a pool of {threads} threads ({e})")))?;
    let p = Arc::new(p);
    pools.insert(threads, p.clone());
    Ok(p)
}

/// Validate a user's `threads` value: `None` means [`default_threads`].
pub fn resolve_threads(threads: Option<i64>) -> Result<usize> {
    match threads {
        None => Ok(default_threads()),
        Some(n) if (1..=4096).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "threads must be between 1 and 4096, got {n}"
        ))),
    }
}

/// Run `f` inside the pool of `threads` workers (rayon calls inside use that pool).
pub fn install<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool(threads)?.install(f))
}

/// Run `work` on the default pool while the calling thread calls `poll` every `every`
/// until it is done. This is how a caller that must stay responsive (Python's main thread
/// checking for Ctrl-C) waits for a long computation without spawning an OS thread per
/// call. `None` only if `work` panicked; the panic is then re-raised by rayon.
pub fn run_polling<R: Send>(
    work: impl FnOnce() -> R + Send,
    every: std::time::Duration,
    mut poll: impl FnMut(),
) -> Result<Option<R>> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    let (tx, rx) = channel();
    Ok(pool(default_threads())?.in_place_scope(|scope| {
        scope.spawn(move |_| {
            // The receiver lives until the scope ends; a send cannot fail.
            let _ = tx.send(work());
        });
        loop {
            match rx.recv_timeout(every) {
                Ok(result) => return Some(result),
                Err(RecvTimeoutError::Timeout) => poll(),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }))
}
