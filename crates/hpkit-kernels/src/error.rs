//! The one error type of this crate; `hpkit-py` maps every variant to a Python exception.

/// What can go wrong in a kernel call. Every variant is reachable from user input and
/// must surface as a clear Python exception, never a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// An argument is outside its domain (negative size, NaN bound, unknown name...).
    #[error("{0}")]
    InvalidArgument(String),
    /// The result would need more memory than the machine has.
    #[error("{what} would need {bytes} bytes, more than this machine's {limit} bytes of RAM")]
    TooLarge {
        what: &'static str,
        bytes: u128,
        limit: u64,
    },
    /// A code path (e.g. a SIMD instruction set) that this CPU does not support.
    #[error("{0} is not supported on this CPU")]
    Unsupported(String),
    /// An exact integer result does not fit the widest integer the kernel carries.
    #[error("{0}")]
    Overflow(String),
    /// The caller asked the computation to stop (Ctrl-C in Python).
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, KernelError>;

pub(crate) fn invalid(msg: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument(msg.into())
}
