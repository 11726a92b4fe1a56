//! The crate's one error enum; `hpkit-py` maps every variant to one Python exception.

use std::path::PathBuf;

/// What can go wrong in this crate. Every variant is reachable from user input and must
/// surface as a clear Python exception, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A bad argument: an empty pattern list, an empty pattern, a replacement list of the
    /// wrong length, overlapping search with a leftmost match kind...
    #[error("{0}")]
    InvalidArgument(String),
    /// Bytes or a file that are not a valid serialised structure: wrong magic or version,
    /// truncated, or a checksum that does not match.
    #[error("corrupt or truncated token set: {0}")]
    Corrupt(String),
    /// Reading or writing a file failed; `path` says which file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = TextError> = std::result::Result<T, E>;

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(TextError::InvalidArgument(msg.into()))
}

pub(crate) fn corrupt<T>(msg: impl Into<String>) -> Result<T> {
    Err(TextError::Corrupt(msg.into()))
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TextError + '_ {
    move |source| TextError::Io {
        path: path.to_path_buf(),
        source,
    }
}
