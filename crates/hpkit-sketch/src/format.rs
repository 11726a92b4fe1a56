//! The byte format shared by every structure:
//!
//! ```text
//! "HPKS" | version: u16 LE | kind: u8 | reserved: u8 = 0 | body ... | crc32(all before): u32 LE
//! ```
//!
//! The body is written field by field with [`Writer`] (little-endian integers and floats,
//! length-prefixed arrays) and read back with [`Reader`], which checks magic, version,
//! kind and checksum first and bounds every read, so corrupted or truncated input is a
//! [`SketchError::Corrupt`], never a panic or a huge allocation.

use crate::error::{Result, SketchError};

pub const MAGIC: [u8; 4] = *b"HPKS";
/// Bump when a body layout changes; readers reject versions they do not know.
pub const VERSION: u16 = 1;
const HEADER: usize = 8;
const TRAILER: usize = 4;

/// Which structure a byte string holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Morris = 1,
    Kmv = 2,
    LogLog = 3,
    HyperLogLog = 4,
    Bloom = 5,
    ScalingBloom = 6,
    CountMin = 7,
}

fn corrupt<T>(msg: impl Into<String>) -> Result<T> {
    Err(SketchError::Corrupt(msg.into()))
}

/// Builds the byte form: header first, body by calls, checksum in [`Writer::finish`].
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new(kind: Kind) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.push(kind as u8);
        buf.push(0);
        Writer { buf }
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A length-prefixed byte array.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
        self
    }
    /// A length-prefixed array of u32.
    pub fn u32s(&mut self, v: &[u32]) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.reserve(v.len() * 4);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
    /// A length-prefixed array of u64.
    pub fn u64s(&mut self, v: &[u64]) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.reserve(v.len() * 8);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        self
    }

    /// Append the checksum and return the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// Reads a body written by [`Writer`], checking everything on the way.
pub struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Check magic, version, kind and checksum; position at the start of the body.
    pub fn new(data: &'a [u8], kind: Kind) -> Result<Self> {
        if data.len() < HEADER + TRAILER {
            return corrupt(format!(
                "{} bytes is too short to hold a sketch",
                data.len()
            ));
        }
        if data[..4] != MAGIC {
            return corrupt("not hpkit sketch bytes (bad magic)");
        }
        let version = u16::from_le_bytes([data[4], data[5]]);
        if version != VERSION {
            return corrupt(format!(
                "format version {version}; this hpkit reads {VERSION}"
            ));
        }
        let (content, trailer) = data.split_at(data.len() - TRAILER);
        let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
        if crc32fast::hash(content) != stored {
            return corrupt("checksum mismatch");
        }
        if data[6] != kind as u8 {
            return corrupt(format!(
                "holds structure kind {}, expected {:?}",
                data[6], kind
            ));
        }
        Ok(Reader {
            body: &content[HEADER..],
            pos: 0,
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.body.len() => {
                let s = &self.body[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => corrupt("truncated body"),
        }
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// The length prefix of an array of `width`-byte items, checked against what is left
    /// before anything is allocated.
    fn len(&mut self, width: usize) -> Result<usize> {
        let n = self.u64()?;
        let left = (self.body.len() - self.pos) as u64;
        if n.checked_mul(width as u64).is_none_or(|bytes| bytes > left) {
            return corrupt(format!("array of {n} items does not fit in the body"));
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.len(4)?;
        let raw = self.take(n * 4)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
            .collect())
    }
    pub fn u64s(&mut self) -> Result<Vec<u64>> {
        let n = self.len(8)?;
        let raw = self.take(n * 8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
            .collect())
    }

    /// Fail unless the whole body was read (trailing garbage is corruption too).
    pub fn finish(self) -> Result<()> {
        if self.pos != self.body.len() {
            return corrupt(format!(
                "{} unread bytes after the body",
                self.body.len() - self.pos
            ));
        }
        Ok(())
    }
}

/// A check on a decoded value: `ensure(cond, "what")?` turns a violated invariant into
/// [`SketchError::Corrupt`].
pub fn ensure(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        corrupt(what.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Kind::Kmv);
        w.u8(3)
            .u32(7)
            .u64(9)
            .f64(1.5)
            .bytes(b"abc")
            .u32s(&[1, 2])
            .u64s(&[5]);
        w.finish()
    }

    #[test]
    fn round_trip() {
        let data = sample();
        let mut r = Reader::new(&data, Kind::Kmv).unwrap();
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.u32().unwrap(), 7);
        assert_eq!(r.u64().unwrap(), 9);
        assert_eq!(r.f64().unwrap(), 1.5);
        assert_eq!(r.bytes().unwrap(), b"abc");
        assert_eq!(r.u32s().unwrap(), vec![1, 2]);
        assert_eq!(r.u64s().unwrap(), vec![5]);
        r.finish().unwrap();
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let data = sample();
        for n in 0..data.len() {
            assert!(Reader::new(&data[..n], Kind::Kmv).is_err());
        }
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x10;
            assert!(Reader::new(&bad, Kind::Kmv).is_err(), "flip at {i}");
        }
        assert!(Reader::new(&data, Kind::Bloom).is_err());
    }
}
