//! Item hashing: `xxh3` (default) or `murmur3` (bit-for-bit the `mmh3` package, seed 0).

use crate::error::{invalid, Result, SketchError};

/// Which hash function a structure uses. Stored in the byte format, so a structure built
/// with one can only merge with another built with the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HashKind {
    /// XXH3 (64-bit, and 128-bit where two hashes are needed): the fast default.
    Xxh3 = 0,
    /// MurmurHash3, seed 0: `hash32` = `mmh3.hash` (x86_32), `hash64`/`hash128` =
    /// `mmh3.hash64` (the x64_128 variant's two halves).
    Murmur3 = 1,
}

impl HashKind {
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Xxh3 => "xxh3",
            HashKind::Murmur3 => "murmur3",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "xxh3" => Ok(HashKind::Xxh3),
            "murmur3" => Ok(HashKind::Murmur3),
            _ => invalid(format!(
                "unknown hash {name:?}; expected 'xxh3' or 'murmur3'"
            )),
        }
    }

    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(HashKind::Xxh3),
            1 => Ok(HashKind::Murmur3),
            _ => Err(SketchError::Corrupt(format!("unknown hash id {v}"))),
        }
    }

    /// A 32-bit hash; for murmur3, `mmh3.hash(item) & 0xFFFFFFFF`.
    #[inline]
    pub fn hash32(self, item: &[u8]) -> u32 {
        match self {
            HashKind::Xxh3 => xxhash_rust::xxh3::xxh3_64(item) as u32,
            HashKind::Murmur3 => mur3::murmurhash3_x86_32(item, 0),
        }
    }

    /// A 64-bit hash; for murmur3, `mmh3.hash64(item)[0]` as unsigned.
    #[inline]
    pub fn hash64(self, item: &[u8]) -> u64 {
        match self {
            HashKind::Xxh3 => xxhash_rust::xxh3::xxh3_64(item),
            HashKind::Murmur3 => mur3::murmurhash3_x64_128(item, 0).0,
        }
    }

    /// Two independent 64-bit hashes; for murmur3, `mmh3.hash64(item)` as unsigned.
    #[inline]
    pub fn hash128(self, item: &[u8]) -> (u64, u64) {
        match self {
            HashKind::Xxh3 => {
                let h = xxhash_rust::xxh3::xxh3_128(item);
                (h as u64, (h >> 64) as u64)
            }
            HashKind::Murmur3 => mur3::murmurhash3_x64_128(item, 0),
        }
    }
}

/// Which algorithm: today's best estimator, or the book's listing replayed exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Variant {
    Default = 0,
    /// The book's (countmemaybe) semantics, quirks included; pair with `HashKind::Murmur3`
    /// to reproduce WORKLOADS.md ch11 exactly.
    Book = 1,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::Book => "book",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "default" => Ok(Variant::Default),
            "book" => Ok(Variant::Book),
            _ => invalid(format!(
                "unknown variant {name:?}; expected 'default' or 'book'"
            )),
        }
    }

    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(Variant::Default),
            1 => Ok(Variant::Book),
            _ => Err(SketchError::Corrupt(format!("unknown variant id {v}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_mmh3() {
        // mmh3.hash('foo') = -156908512; mmh3.hash64('foo') from WORKLOADS.md ch11.
        assert_eq!(HashKind::Murmur3.hash32(b"foo") as i32, -156_908_512);
        let (a, b) = HashKind::Murmur3.hash128(b"foo");
        assert_eq!(
            (a as i64, b as i64),
            (-2129773440516405919, 9128664383759220103)
        );
        assert_eq!(HashKind::Murmur3.hash64(b"foo"), a);
    }
}
