//! Where a token set's bytes live: a `Vec` built in memory, or a read-only mapping of a
//! file that every process opening it shares through the OS page cache.

use memmap2::Mmap;
use std::fs::File;
use std::io;

/// The whole serialised form (header and FST) of one token set.
pub(crate) enum Storage {
    Owned(Vec<u8>),
    Mapped(Mmap),
}

impl AsRef<[u8]> for Storage {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

/// Map `file` read-only.
// SAFETY: `Mmap::map` is unsafe because the mapped bytes change (or vanish, raising SIGBUS)
// if another process modifies or truncates the file while it is mapped. hpkit only ever
// writes a token-set file whole, to a temporary name, and renames it into place
// (`TokenSet::save`), so a mapping always sees one immutable inode; replacing a file by
// other means while it is open is documented as unsupported. Everything read from the
// mapping is bounds-checked (and checksummed by `TokenSet::open` unless told not to).
#[allow(unsafe_code)]
pub(crate) fn map_file(file: &File) -> io::Result<Mmap> {
    unsafe { Mmap::map(file) }
}

/// The FST part of a [`Storage`]: the bytes from `start` on, which is what `fst::Map`
/// reads (it finds its own footer at the end of the slice).
pub(crate) struct FstBytes {
    pub(crate) storage: Storage,
    pub(crate) start: usize,
}

impl AsRef<[u8]> for FstBytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.storage.as_ref().get(self.start..).unwrap_or(&[])
    }
}
