//! What the machine can hold: used to refuse, with a clear error, outputs that would not
//! fit in RAM instead of letting the OS kill the process half-way.

/// Total physical memory in bytes (`MemTotal` of /proc/meminfo), or `u64::MAX` where unknown.
pub fn total_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

/// `Err(TooLarge)` when `bytes` exceeds the machine's RAM.
pub fn check_fits(what: &'static str, bytes: u128) -> crate::Result<()> {
    let limit = total_memory_bytes();
    if bytes > u128::from(limit) {
        return Err(crate::KernelError::TooLarge { what, bytes, limit });
    }
    Ok(())
}
