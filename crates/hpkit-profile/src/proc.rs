//! What the kernel says about this process: a thread's scheduling state and the
//! resident set size. Linux only; elsewhere every answer is "unknown".

/// Whether the kernel thread `tid` of this process is on a CPU or ready to run
/// (state `R`), `None` when it cannot be read.
pub fn thread_running(tid: i32) -> Option<bool> {
    let stat = std::fs::read(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": comm may hold spaces or parentheses, so read after the last ')'.
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).map(|&state| state == b'R')
}

/// Resident set size in bytes, from `/proc/self/statm`.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// CPU time kernel thread `tid` has run, in ns, from `/proc/self/task/<tid>/schedstat`.
pub fn thread_cpu_ns(tid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// CPU time the calling thread has run, in ns (the same clock as [`thread_cpu_ns`]).
pub fn current_thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    ok.then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_is_running_and_the_process_has_memory() {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        assert_eq!(thread_running(tid), Some(true));
        assert_eq!(thread_running(-5), None);
        assert!(rss_bytes().unwrap() > 1 << 20);
        let before = thread_cpu_ns(tid).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_ns(tid).unwrap() > before);
        assert!(current_thread_cpu_ns().unwrap() > 0);
    }
}
