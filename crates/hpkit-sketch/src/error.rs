//! The crate's one error enum.

/// What can go wrong in this crate. The binding maps each variant to one Python exception.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SketchError {
    /// A bad parameter: p out of range, error rate outside (0, 1), zero width...
    #[error("{0}")]
    InvalidArgument(String),
    /// Bytes that are not a valid serialised structure of the expected kind.
    #[error("corrupt or truncated sketch bytes: {0}")]
    Corrupt(String),
    /// Two structures that cannot be merged (different size, hash or variant).
    #[error("cannot merge: {0}")]
    Incompatible(String),
}

pub type Result<T, E = SketchError> = std::result::Result<T, E>;

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(SketchError::InvalidArgument(msg.into()))
}

pub(crate) fn incompatible<T>(msg: impl Into<String>) -> Result<T> {
    Err(SketchError::Incompatible(msg.into()))
}
