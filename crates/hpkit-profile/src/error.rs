use thiserror::Error;

/// What can go wrong when starting a profiling session.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// A rate or size is outside its domain.
    #[error("{0}")]
    InvalidArgument(String),
    /// Another session is already running in this process (the pending-call hook and the
    /// allocator hooks are process-wide).
    #[error("a profiling session is already running in this process")]
    Busy,
    /// The operating system refused something (starting the sampler thread).
    #[error("{0}")]
    Os(#[from] std::io::Error),
}
