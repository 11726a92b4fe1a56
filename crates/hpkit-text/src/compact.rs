//! The compact layout of a [`TokenSet`](crate::TokenSet): a sorted string dictionary with
//! front coding in buckets and Huffman-coded suffixes.
//!
//! Keys are cut, in sorted order, into buckets of `B` (the bucket size, 16 by default).
//! The first key of each bucket (its *header*) is stored in full: its first four bytes in
//! a contiguous prefix array, the rest byte-aligned in the bucket; every other key is
//! stored as the length of the prefix it shares with the key before it (`lcp`) and the
//! rest of it (the *suffix*). The `(lcp, suffix length)` pair is one symbol of a
//! canonical Huffman code (pairs outside 16 x 16 escape to two raw numbers), the suffix
//! bytes symbols of a second code; both codes are the same for the whole set and limited
//! to [`MAX_CODE_LEN`] bits, so one table lookup decodes one symbol. This is the classic
//! "front coding + entropy coding" dictionary (Witten, Moffat and Bell, *Managing
//! Gigabytes*, 1999, section 4.1; Martínez-Prieto et al., "Practical compressed string
//! dictionaries", Information Systems 56, 2016, whose "PFC" is this layout).
//!
//! A lookup binary-searches the first four bytes of the headers (a contiguous array, so the
//! search stays in cache, narrowed first by a 257-entry table on the first byte), compares
//! whole headers only among buckets that tie on those, then decodes its bucket until the
//! key is found or passed, comparing on the fly without rebuilding keys: with `m` the
//! length shared by the query and the previous key, an entry with `lcp > m` is smaller
//! than the query, one with `lcp < m` larger. The id of a key is `bucket * B + position`,
//! its rank.
//!
//! # Body (after the 32-byte header of the token set), format 2
//!
//! ```text
//! offset        size        field
//!      0           4        tag "PFC\x02" (format 2; format 1 had no tag and is refused)
//!      4           4        bucket size B (u32 LE, >= 1)
//!      8           4        number of buckets NB (u32 LE) = ceil(len / B)
//!     12           4        length D of the bucket data (u32 LE)
//!     16           4        width W of the bucket offset deltas, in bits (u32 LE, <= 32)
//!     20         256        code length of each byte symbol (0 = unused, <= 12)
//!    276         257        code length of each pair symbol (256 = escape)
//!    533      4 * NG        offset of every 16th bucket in the data (u32 LE), NG =
//!                           ceil(NB / 16)
//!      .  ceil(NB*W/8)      per bucket, its offset minus its group's (W bits each,
//!                           least significant bit first); offsets strictly increase
//!      .        4 * NB      first 4 bytes of each header key, zero-padded (u32 BE)
//!      .           D        bucket data
//! ```
//!
//! A bucket is its header key's length (LEB128) and bytes after the first four, then a
//! bit stream (least significant bit first, codes bit-reversed as in deflate) of its
//! other keys, each a pair symbol (after an escape: two numbers, each a 6-bit width `w`
//! then `w` bits) and the suffix's byte symbols, padded to a whole byte.

use crate::error::{corrupt, invalid, Result};
use crate::storage::Storage;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The default number of keys per bucket.
pub const DEFAULT_BUCKET_SIZE: usize = 16;
/// The largest bucket size accepted (a bucket is decoded whole in the worst case).
pub const MAX_BUCKET_SIZE: usize = 1 << 12;
/// Longest Huffman code, in bits (the decode tables have `2^MAX_CODE_LEN` entries).
pub const MAX_CODE_LEN: u32 = 12;
const TABLE_SIZE: usize = 1 << MAX_CODE_LEN;
const MASK: u64 = (1 << MAX_CODE_LEN) - 1;
const BYTE_SYMS: usize = 256;
const PAIR_LCP: usize = 16;
const PAIR_SLEN: usize = 16;
const ESCAPE: usize = PAIR_LCP * PAIR_SLEN;
const PAIR_SYMS: usize = ESCAPE + 1;
/// The first field of the body: a tag and the version of this layout ("PFC" and 2;
/// version 1, which stored raw headers and a u32 per bucket offset, had no tag and is
/// refused).
pub const FORMAT_TAG: u32 = u32::from_le_bytes(*b"PFC\x02");
/// Bucket offsets are a u32 every `OFFSET_GROUP` buckets plus a packed delta per bucket.
pub const OFFSET_GROUP: usize = 16;
const WIDTH_AT: usize = 16;
const BYTE_LENS_AT: usize = 20;
const PAIR_LENS_AT: usize = BYTE_LENS_AT + BYTE_SYMS;
/// Bytes of the body before the bucket offsets.
pub const FIXED_LEN: usize = PAIR_LENS_AT + PAIR_SYMS;

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// Append `v` as LEB128.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Read a LEB128 number at `at`: the value and the position after it.
fn get_varint(b: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(at)?;
        at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((v, at));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Huffman codes

/// Huffman code lengths for `freq` (0 for unused symbols), limited to [`MAX_CODE_LEN`]
/// bits by flattening the frequencies until the tree is shallow enough.
fn code_lengths(freq: &[u64]) -> Vec<u8> {
    let mut lens = vec![0u8; freq.len()];
    let used: Vec<usize> = (0..freq.len()).filter(|&s| freq[s] > 0).collect();
    match used.len() {
        0 => return lens,
        1 => {
            lens[used[0]] = 1;
            return lens;
        }
        _ => {}
    }
    let mut weights: Vec<u64> = used.iter().map(|&s| freq[s]).collect();
    loop {
        let depths = tree_depths(&weights);
        if depths.iter().all(|&d| d <= MAX_CODE_LEN) {
            for (&s, &d) in used.iter().zip(&depths) {
                lens[s] = d as u8;
            }
            return lens;
        }
        for w in &mut weights {
            *w = (*w >> 1) | 1;
        }
    }
}

/// The depth of each leaf in a Huffman tree over `weights` (at least two).
fn tree_depths(weights: &[u64]) -> Vec<u32> {
    let n = weights.len();
    let mut parent = vec![usize::MAX; 2 * n - 1];
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| std::cmp::Reverse((w, i)))
        .collect();
    let mut next = n;
    while heap.len() > 1 {
        let (Some(std::cmp::Reverse((wa, a))), Some(std::cmp::Reverse((wb, b)))) =
            (heap.pop(), heap.pop())
        else {
            break;
        };
        parent[a] = next;
        parent[b] = next;
        heap.push(std::cmp::Reverse((wa + wb, next)));
        next += 1;
    }
    // Parents are created after their children, so one pass from the root down works.
    let mut depth = vec![0u32; 2 * n - 1];
    for i in (0..2 * n - 2).rev() {
        depth[i] = depth[parent[i]] + 1;
    }
    depth.truncate(n);
    depth
}

/// Canonical codes for `lens`, bit-reversed for a least-significant-bit-first stream:
/// `(code, length)` per symbol. `None` if the lengths over-subscribe the code space.
fn canonical_codes(lens: &[u8]) -> Option<Vec<(u32, u32)>> {
    let mut count = [0u32; MAX_CODE_LEN as usize + 1];
    let mut kraft = 0u64;
    for &l in lens {
        if u32::from(l) > MAX_CODE_LEN {
            return None;
        }
        if l > 0 {
            count[l as usize] += 1;
            kraft += 1 << (MAX_CODE_LEN - u32::from(l));
        }
    }
    if kraft > TABLE_SIZE as u64 {
        return None;
    }
    let mut next = [0u32; MAX_CODE_LEN as usize + 2];
    let mut code = 0u32;
    for l in 1..=MAX_CODE_LEN as usize {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    let mut out = vec![(0u32, 0u32); lens.len()];
    for (s, &l) in lens.iter().enumerate() {
        if l > 0 {
            let c = next[l as usize];
            next[l as usize] += 1;
            out[s] = (c.reverse_bits() >> (32 - u32::from(l)), u32::from(l));
        }
    }
    Some(out)
}

/// A decode table: entry `bits & MASK` is `symbol << 4 | length`, 0 for no code.
type Table = Box<[u16; TABLE_SIZE]>;

fn decode_table(lens: &[u8]) -> Option<Table> {
    let codes = canonical_codes(lens)?;
    let mut table: Table = Box::new([0u16; TABLE_SIZE]);
    for (s, &(code, len)) in codes.iter().enumerate() {
        if len == 0 {
            continue;
        }
        let entry = ((s as u16) << 4) | len as u16;
        let mut i = code as usize;
        while i < TABLE_SIZE {
            table[i] = entry;
            i += 1 << len;
        }
    }
    Some(table)
}

struct BitWriter {
    out: Vec<u8>,
    buf: u64,
    n: u32,
}

impl BitWriter {
    /// Append `len` (<= 32) bits of `v`.
    fn put(&mut self, v: u32, len: u32) {
        self.buf |= u64::from(v) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.buf as u8);
            self.buf >>= 8;
            self.n -= 8;
        }
    }

    /// A number of up to 32 bits: its width in 6 bits, then the bits.
    fn put_num(&mut self, v: u32) {
        let width = 32 - v.leading_zeros();
        self.put(width, 6);
        if width > 0 {
            self.put(v, width);
        }
    }

    fn align(&mut self) {
        if self.n > 0 {
            self.out.push(self.buf as u8);
        }
        self.buf = 0;
        self.n = 0;
    }
}

/// Reads a bit stream least significant bit first; past the end of `data` it reads
/// zeros (so a damaged stream decodes to garbage or an error, never out of bounds).
struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to load.
    pos: usize,
    buf: u64,
    /// Valid bits in `buf` (the bits above are zero or equal to the bytes at `pos`).
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            buf: 0,
            n: 0,
        }
    }

    /// Make at least 56 bits valid (the branchless refill of Fabian Giesen's "Reading
    /// bits in far too many ways", 2018, variant 4).
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(w) = self.data.get(self.pos..self.pos.wrapping_add(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.buf |= u64::from_le_bytes(word) << self.n;
            self.pos += ((63 - self.n) >> 3) as usize;
            self.n |= 56;
        } else {
            while self.n <= 56 {
                let byte = self.data.get(self.pos).copied().unwrap_or(0);
                self.buf |= u64::from(byte) << self.n;
                self.pos = self.pos.saturating_add(1);
                self.n += 8;
            }
        }
    }

    /// Bytes consumed so far, from the start of `data`, rounded up.
    fn byte_pos(&self) -> usize {
        (self.pos * 8 - self.n as usize).div_ceil(8)
    }

    #[inline(always)]
    fn symbol(&mut self, table: &[u16; TABLE_SIZE]) -> Option<usize> {
        if self.n < MAX_CODE_LEN {
            self.refill();
        }
        self.symbol_unchecked(table)
    }

    /// [`Bits::symbol`] when at least [`MAX_CODE_LEN`] bits are known to be loaded.
    #[inline(always)]
    fn symbol_unchecked(&mut self, table: &[u16; TABLE_SIZE]) -> Option<usize> {
        let entry = table[(self.buf & MASK) as usize];
        let len = u32::from(entry & 15);
        if len == 0 {
            return None;
        }
        self.buf >>= len;
        self.n -= len;
        Some(usize::from(entry >> 4))
    }

    fn raw(&mut self, len: u32) -> u64 {
        if self.n < len {
            self.refill();
        }
        let v = self.buf & ((1u64 << len) - 1);
        self.buf >>= len;
        self.n -= len;
        v
    }

    #[cold]
    #[inline(never)]
    fn escaped(&mut self) -> Option<(usize, usize)> {
        Some((self.num()?, self.num()?))
    }

    fn num(&mut self) -> Option<usize> {
        let width = self.raw(6) as u32;
        if width > 32 {
            return None;
        }
        Some(self.raw(width) as usize)
    }
}

// ---------------------------------------------------------------------------------------
// Building

fn lcp(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The first four bytes of `key` as a big-endian number, zero-padded: keys in order have
/// prefixes in (non-strict) order.
#[inline]
fn key_prefix(key: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    let n = key.len().min(4);
    w[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(w)
}

fn pair_symbol(lcp: usize, slen: usize) -> Option<usize> {
    (lcp < PAIR_LCP && (1..=PAIR_SLEN).contains(&slen)).then(|| lcp * PAIR_SLEN + slen - 1)
}

/// The body for `keys` (strictly increasing) in buckets of `bucket`.
pub(crate) fn build(keys: &[&[u8]], bucket: usize) -> Result<Vec<u8>> {
    if bucket == 0 || bucket > MAX_BUCKET_SIZE {
        return invalid(format!(
            "bucket_size must be between 1 and {MAX_BUCKET_SIZE}, got {bucket}"
        ));
    }
    let too_big = || invalid("the token set is too large for the compact layout (4 GiB)");
    let mut byte_freq = vec![0u64; BYTE_SYMS];
    let mut pair_freq = vec![0u64; PAIR_SYMS];
    for (i, key) in keys.iter().enumerate() {
        if i % bucket == 0 {
            continue;
        }
        let l = lcp(keys[i - 1], key);
        let suffix = &key[l..];
        pair_freq[pair_symbol(l, suffix.len()).unwrap_or(ESCAPE)] += 1;
        for &b in suffix {
            byte_freq[b as usize] += 1;
        }
    }
    let byte_lens = code_lengths(&byte_freq);
    let pair_lens = code_lengths(&pair_freq);
    let (Some(byte_codes), Some(pair_codes)) =
        (canonical_codes(&byte_lens), canonical_codes(&pair_lens))
    else {
        return invalid("internal error: invalid Huffman code");
    };

    let nbuckets = keys.len().div_ceil(bucket);
    let mut offsets = Vec::with_capacity(nbuckets);
    let mut w = BitWriter {
        out: Vec::new(),
        buf: 0,
        n: 0,
    };
    for (i, key) in keys.iter().enumerate() {
        if i % bucket == 0 {
            w.align();
            let Ok(at) = u32::try_from(w.out.len()) else {
                return too_big();
            };
            offsets.push(at);
            // The first four bytes are in the prefix array.
            put_varint(&mut w.out, key.len() as u64);
            w.out.extend_from_slice(key.get(4..).unwrap_or(&[]));
            continue;
        }
        let l = lcp(keys[i - 1], key);
        let suffix = &key[l..];
        match pair_symbol(l, suffix.len()) {
            Some(s) => w.put(pair_codes[s].0, pair_codes[s].1),
            None => {
                let (Ok(l32), Ok(s32)) = (u32::try_from(l), u32::try_from(suffix.len())) else {
                    return too_big();
                };
                w.put(pair_codes[ESCAPE].0, pair_codes[ESCAPE].1);
                w.put_num(l32);
                w.put_num(s32);
            }
        }
        for &b in suffix {
            let (code, len) = byte_codes[b as usize];
            w.put(code, len);
        }
    }
    w.align();
    let data = w.out;
    let (Ok(bucket32), Ok(nb32), Ok(dlen32)) = (
        u32::try_from(bucket),
        u32::try_from(nbuckets),
        u32::try_from(data.len()),
    ) else {
        return too_big();
    };
    // Offsets: a u32 base per group of OFFSET_GROUP buckets, then per bucket its
    // distance from its group's base in `width` bits.
    let mut width = 0u32;
    for (i, &at) in offsets.iter().enumerate() {
        let delta = at - offsets[i - i % OFFSET_GROUP];
        width = width.max(32 - delta.leading_zeros());
    }
    let ngroups = nbuckets.div_ceil(OFFSET_GROUP);
    let packed_len = packed_len(nbuckets, width as usize);
    let mut body =
        Vec::with_capacity(FIXED_LEN + 4 * ngroups + packed_len + 4 * nbuckets + data.len());
    body.extend_from_slice(&FORMAT_TAG.to_le_bytes());
    body.extend_from_slice(&bucket32.to_le_bytes());
    body.extend_from_slice(&nb32.to_le_bytes());
    body.extend_from_slice(&dlen32.to_le_bytes());
    body.extend_from_slice(&width.to_le_bytes());
    body.extend_from_slice(&byte_lens);
    body.extend_from_slice(&pair_lens);
    for at in offsets.iter().step_by(OFFSET_GROUP) {
        body.extend_from_slice(&at.to_le_bytes());
    }
    let mut pw = BitWriter {
        out: Vec::with_capacity(packed_len),
        buf: 0,
        n: 0,
    };
    for (i, &at) in offsets.iter().enumerate() {
        pw.put(at - offsets[i - i % OFFSET_GROUP], width);
    }
    pw.align();
    debug_assert_eq!(pw.out.len(), packed_len);
    body.extend_from_slice(&pw.out);
    for i in (0..keys.len()).step_by(bucket) {
        body.extend_from_slice(&key_prefix(keys[i]).to_le_bytes());
    }
    body.extend_from_slice(&data);
    Ok(body)
}

/// Bytes of `n` packed numbers of `width` bits.
fn packed_len(n: usize, width: usize) -> usize {
    n.saturating_mul(width).div_ceil(8)
}

// ---------------------------------------------------------------------------------------
// Reading

/// A token set in the compact layout: its bytes and the decode tables built from them.
pub(crate) struct Compact {
    pub(crate) storage: Storage,
    count: usize,
    max_key_len: usize,
    bucket: usize,
    nbuckets: usize,
    /// Where the group bases of the bucket offsets start in `storage`.
    bases_at: usize,
    /// Where the packed offset deltas start in `storage`, and their width in bits.
    deltas_at: usize,
    width: u32,
    /// Where the header prefixes start in `storage`.
    prefixes_at: usize,
    /// Where the bucket data starts in `storage`.
    data_at: usize,
    bytes: Table,
    pairs: Table,
    /// For skipping suffix bytes: entry `bits & MASK` is how many whole byte symbols
    /// (0 to 3) those bits start with (2 bits), then the bits that the first 1, 2 and 3
    /// of them take (4 bits each).
    skip: Table,
    /// `first[c]`: the first bucket whose header prefix starts with a byte >= `c`
    /// (`first[256]` = the number of buckets), to narrow the prefix search.
    first: Box<[u32; 257]>,
}

/// See [`Compact::skip`]; built from the byte decode table.
fn skip_table(bytes: &[u16; TABLE_SIZE]) -> Table {
    let mut skip: Table = Box::new([0u16; TABLE_SIZE]);
    for (i, e) in skip.iter_mut().enumerate() {
        let (mut used, mut count, mut out) = (0u32, 0u32, 0u32);
        while count < 3 {
            let len = u32::from(bytes[(i >> used) & (TABLE_SIZE - 1)] & 15);
            if len == 0 || used + len > MAX_CODE_LEN {
                break;
            }
            used += len;
            out |= used << (2 + 4 * count);
            count += 1;
        }
        *e = (out | count) as u16;
    }
    skip
}

impl Compact {
    /// Check the body at `body_at` and build the decode tables; with `validate`, also
    /// decode every key once and check that they are increasing, of the lengths the
    /// header says, and that each bucket stays inside its bytes.
    pub(crate) fn new(
        storage: Storage,
        body_at: usize,
        count: u64,
        max_key_len: usize,
        validate: bool,
    ) -> Result<Self> {
        let b = storage.as_ref();
        let body_len = b.len().saturating_sub(body_at);
        if body_len < FIXED_LEN {
            return corrupt(format!(
                "{body_len} body bytes is shorter than the {FIXED_LEN}-byte table header"
            ));
        }
        let field = |at: usize| read_u32(b, body_at + at).unwrap_or(0) as usize;
        let tag = read_u32(b, body_at).unwrap_or(0);
        if tag != FORMAT_TAG {
            return corrupt(format!(
                "compact body tag {tag:#010x}, this hpkit reads {FORMAT_TAG:#010x} \
                 (compact sets written before hpkit stored format 2 must be rebuilt)"
            ));
        }
        let (bucket, nbuckets, data_len) = (field(4), field(8), field(12));
        let width = field(WIDTH_AT);
        if bucket == 0 || bucket > MAX_BUCKET_SIZE {
            return corrupt(format!("bucket size {bucket}"));
        }
        if width > 32 {
            return corrupt(format!("bucket offset width {width}"));
        }
        let Ok(count) = usize::try_from(count) else {
            return corrupt("key count does not fit in memory");
        };
        if nbuckets != count.div_ceil(bucket) {
            return corrupt(format!(
                "{nbuckets} buckets of {bucket} cannot hold {count} keys"
            ));
        }
        let bases_at = body_at + FIXED_LEN;
        let deltas_at = bases_at + 4 * nbuckets.div_ceil(OFFSET_GROUP);
        let prefixes_at = deltas_at + packed_len(nbuckets, width);
        let data_at = prefixes_at + 4 * nbuckets;
        if data_at.checked_add(data_len) != Some(b.len()) {
            return corrupt("bucket offsets and data do not fill the body");
        }
        let byte_lens = &b[body_at + BYTE_LENS_AT..body_at + PAIR_LENS_AT];
        let pair_lens = &b[body_at + PAIR_LENS_AT..body_at + FIXED_LEN];
        let (Some(bytes), Some(pairs)) = (decode_table(byte_lens), decode_table(pair_lens)) else {
            return corrupt("invalid Huffman code lengths");
        };
        let set = Compact {
            storage,
            count,
            max_key_len,
            bucket,
            nbuckets,
            bases_at,
            deltas_at,
            width: width as u32,
            prefixes_at,
            data_at,
            skip: skip_table(&bytes),
            first: Box::new([0u32; 257]),
            bytes,
            pairs,
        };
        let mut set = set;
        let mut c = 0usize;
        for bucket in 0..=nbuckets {
            let byte = if bucket == nbuckets {
                256
            } else {
                (set.prefix(bucket) >> 24) as usize
            };
            while c <= byte {
                set.first[c] = bucket as u32;
                c += 1;
            }
        }
        let mut prev = None;
        for i in 0..nbuckets {
            let at = set.offset(i);
            if at >= data_len || prev.is_some_and(|p| at <= p) || (i == 0 && at != 0) {
                return corrupt(format!("bucket {i} offset {at} out of order or range"));
            }
            prev = Some(at);
        }
        if validate {
            set.validate()?;
        }
        Ok(set)
    }

    fn data(&self) -> &[u8] {
        self.storage.as_ref().get(self.data_at..).unwrap_or(&[])
    }

    /// The start of bucket `bucket` in the data (`usize::MAX` if unreadable).
    #[inline]
    fn offset(&self, bucket: usize) -> usize {
        let b = self.storage.as_ref();
        let Some(base) = read_u32(b, self.bases_at + 4 * (bucket / OFFSET_GROUP)) else {
            return usize::MAX;
        };
        let bit = bucket * self.width as usize;
        let at = self.deltas_at + bit / 8;
        let word = match b.get(at..at + 8) {
            Some(w) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(w);
                u64::from_le_bytes(word)
            }
            None => {
                let mut word = [0u8; 8];
                for (k, x) in word.iter_mut().enumerate() {
                    *x = b.get(at + k).copied().unwrap_or(0);
                }
                u64::from_le_bytes(word)
            }
        };
        let delta = (word >> (bit % 8)) & ((1u64 << self.width) - 1);
        base as usize + delta as usize
    }

    /// The end of bucket `bucket` in the data.
    fn end(&self, bucket: usize) -> usize {
        if bucket + 1 < self.nbuckets {
            self.offset(bucket + 1)
        } else {
            self.data().len()
        }
    }

    /// The number of keys in bucket `bucket`.
    fn bucket_len(&self, bucket: usize) -> usize {
        (self.count - bucket * self.bucket).min(self.bucket)
    }

    /// The header key of a bucket and a reader positioned after it.
    #[inline]
    fn open_bucket(&self, bucket: usize) -> Option<(Head<'_>, Bits<'_>)> {
        let data = self.data();
        let (len, at) = get_varint(data, self.offset(bucket))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= self.max_key_len)?;
        let rest_len = len.saturating_sub(4);
        let rest = data.get(at..at + rest_len)?;
        let head = Head {
            prefix: self.prefix(bucket),
            n: len.min(4),
            rest,
        };
        Some((head, Bits::new(data, at + rest_len)))
    }

    /// The next entry of a bucket: `(lcp, suffix length)`, checked against the previous
    /// key's length and the longest key.
    #[inline(always)]
    fn entry(&self, bits: &mut Bits<'_>, prev_len: usize) -> Option<(usize, usize)> {
        // One refill covers the pair and three suffix bytes (4 x 12 <= 56 bits).
        if bits.n < 4 * MAX_CODE_LEN {
            bits.refill();
        }
        let s = bits.symbol_unchecked(&self.pairs)?;
        let (l, sl) = if s < ESCAPE {
            (s / PAIR_SLEN, s % PAIR_SLEN + 1)
        } else {
            bits.escaped()?
        };
        (l <= prev_len && sl >= 1 && l + sl <= self.max_key_len).then_some((l, sl))
    }

    #[inline]
    fn prefix(&self, bucket: usize) -> u32 {
        read_u32(self.storage.as_ref(), self.prefixes_at + 4 * bucket).unwrap_or(u32::MAX)
    }

    /// The bucket whose header is the last one not above `key` (`None` if `key` is
    /// below every key).
    #[inline]
    fn find_bucket(&self, key: &[u8], q: u32) -> Option<usize> {
        // Buckets whose header prefix is below the key's hold smaller keys, above it
        // larger ones: find the run [start, end) that ties, then compare whole headers
        // only there.
        let nb = self.nbuckets;
        if nb == 0 {
            return None;
        }
        // Branch-free lower bound (the select compiles to a conditional move), among the
        // buckets whose prefixes start with the key's first byte.
        let c = (q >> 24) as usize;
        let lo = self.first[c] as usize;
        let hi = (self.first[c + 1] as usize).clamp(lo, nb);
        if lo == hi {
            return lo.checked_sub(1);
        }
        let (mut base, mut len) = (lo, hi - lo);
        while len > 1 {
            let half = len / 2;
            base = if self.prefix(base + half) < q {
                base + half
            } else {
                base
            };
            len -= half;
        }
        let start = base + usize::from(self.prefix(base) < q);
        // Gallop to the end of the run (usually zero to two buckets long).
        let (mut below, mut step) = (start, 1);
        let mut above = start;
        while above < nb && self.prefix(above) == q {
            below = above + 1;
            above = above.saturating_add(step).min(nb);
            step *= 2;
        }
        // The run ends in [below, above]: prefix(below - 1) == q (if below > start).
        let (mut lo, mut hi) = (below, above);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.prefix(mid) == q {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let (mut lo, mut hi) = (start, lo);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self
                .open_bucket(mid)
                .is_none_or(|(h, _)| h.cmp_key(key, q) != Ordering::Greater)
            {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    pub(crate) fn index(&self, key: &[u8]) -> Option<u64> {
        let q = key_prefix(key);
        let b = self.find_bucket(key, q)?;
        let (head, mut bits) = self.open_bucket(b)?;
        let base = (b * self.bucket) as u64;
        // The previous key is below `key` and shares `m` bytes with it.
        let mut m = head.lcp(key, q);
        let mut prev_len = head.len();
        if m == prev_len && m == key.len() {
            return Some(base);
        }
        for pos in 1..self.bucket_len(b) {
            let (l, sl) = self.entry(&mut bits, prev_len)?;
            prev_len = l + sl;
            match l.cmp(&m) {
                // Differs from the query where the previous key did: still below.
                Ordering::Greater => self.skip_bytes(&mut bits, sl)?,
                // Has a larger byte where the previous key matched the query: above.
                Ordering::Less => return None,
                Ordering::Equal => {
                    let rest = &key[m..];
                    let mut j = 0;
                    while j < sl {
                        let c = bits.symbol(&self.bytes)? as u8;
                        match rest.get(j).map(|&q| c.cmp(&q)) {
                            Some(Ordering::Equal) => j += 1,
                            Some(Ordering::Less) => break,
                            Some(Ordering::Greater) | None => return None,
                        }
                    }
                    if j == sl {
                        if sl == rest.len() {
                            return Some(base + pos as u64);
                        }
                    } else {
                        self.skip_bytes(&mut bits, sl - j - 1)?;
                    }
                    m += j;
                }
            }
        }
        None
    }

    /// Pass over `n` suffix bytes, up to three per table lookup.
    #[inline(always)]
    fn skip_bytes(&self, bits: &mut Bits<'_>, mut n: usize) -> Option<()> {
        while n > 0 {
            if bits.n < MAX_CODE_LEN {
                bits.refill();
            }
            let e = self.skip[(bits.buf & MASK) as usize];
            let k = usize::from(e & 3).min(n);
            if k == 0 {
                return None;
            }
            let used = u32::from((e >> (4 * k - 2)) & 15);
            bits.buf >>= used;
            bits.n -= used;
            n -= k;
        }
        Some(())
    }

    /// Decode the key at `pos` of bucket `b` into `key`.
    pub(crate) fn token_into(&self, id: u64, key: &mut Vec<u8>) -> bool {
        key.clear();
        let Ok(id) = usize::try_from(id) else {
            return false;
        };
        if id >= self.count {
            return false;
        }
        let (b, pos) = (id / self.bucket, id % self.bucket);
        let Some((head, mut bits)) = self.open_bucket(b) else {
            return false;
        };
        head.write_into(key);
        for _ in 0..pos {
            if !self.next_key(&mut bits, key) {
                key.clear();
                return false;
            }
        }
        true
    }

    /// Decode the next key of a bucket over the previous one in `key`.
    #[inline]
    fn next_key(&self, bits: &mut Bits<'_>, key: &mut Vec<u8>) -> bool {
        let Some((l, sl)) = self.entry(bits, key.len()) else {
            return false;
        };
        key.truncate(l);
        for _ in 0..sl {
            match bits.symbol(&self.bytes) {
                Some(c) => key.push(c as u8),
                None => return false,
            }
        }
        true
    }

    /// A cursor at the first key of the bucket that may hold `from` (every key from
    /// the start when `from` is below all keys).
    pub(crate) fn cursor(&self, from: &[u8]) -> Cursor<'_> {
        let b = self.find_bucket(from, key_prefix(from)).unwrap_or(0);
        Cursor {
            set: self,
            bucket: b,
            pos: 0,
            bits: None,
            key: Vec::new(),
            failed: false,
        }
    }

    /// Decode everything once (see [`Compact::new`]).
    fn validate(&self) -> Result<()> {
        let mut longest = 0;
        let mut seen = 0usize;
        let mut prev: Vec<u8> = Vec::new();
        let mut key = Vec::with_capacity(self.max_key_len.min(1 << 16));
        for b in 0..self.nbuckets {
            let Some((head, mut bits)) = self.open_bucket(b) else {
                return corrupt(format!("bucket {b} header is damaged"));
            };
            if head.prefix != key_prefix(&head.prefix.to_be_bytes()[..head.n]) {
                return corrupt(format!("bucket {b} prefix does not match its header"));
            }
            head.write_into(&mut key);
            for pos in 0..self.bucket_len(b) {
                if pos > 0 && !self.next_key(&mut bits, &mut key) {
                    return corrupt(format!("bucket {b} entry {pos} is damaged"));
                }
                if seen > 0 && key <= prev {
                    return corrupt(format!("key {seen} is not above the key before it"));
                }
                longest = longest.max(key.len());
                prev.clear();
                prev.extend_from_slice(&key);
                seen += 1;
            }
            let used = bits.byte_pos();
            if used > self.end(b) {
                return corrupt(format!("bucket {b} runs past its end"));
            }
        }
        if seen != self.count || longest != self.max_key_len {
            return corrupt("decoded keys do not match the header's count or longest key");
        }
        Ok(())
    }
}

/// A bucket's header key: its first `n` (at most four) bytes, from the prefix array
/// (`prefix`, as there: big-endian, zero-padded), then `rest`.
#[derive(Clone, Copy)]
struct Head<'a> {
    prefix: u32,
    n: usize,
    rest: &'a [u8],
}

/// `a.cmp(b)` without a call to `memcmp` (the slices here are a few bytes long).
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let m = lcp(a, b);
    match (a.get(m), b.get(m)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

impl Head<'_> {
    fn len(&self) -> usize {
        self.n + self.rest.len()
    }

    /// The header against `key`, whose first four bytes are `q` (see [`key_prefix`]).
    /// Zero padding makes the prefixes compare as the bytes do, up to length.
    #[inline]
    fn cmp_key(&self, key: &[u8], q: u32) -> Ordering {
        self.prefix
            .cmp(&q)
            .then(self.n.cmp(&key.len().min(4)))
            .then_with(|| cmp_bytes(self.rest, key.get(4..).unwrap_or(&[])))
    }

    /// The length of the prefix shared with `key`, whose first four bytes are `q`.
    #[inline]
    fn lcp(&self, key: &[u8], q: u32) -> usize {
        let m = ((self.prefix ^ q).leading_zeros() / 8) as usize;
        let m = m.min(self.n).min(key.len());
        if m < 4 {
            m
        } else {
            4 + lcp(self.rest, key.get(4..).unwrap_or(&[]))
        }
    }

    fn write_into(&self, key: &mut Vec<u8>) {
        key.clear();
        key.extend_from_slice(&self.prefix.to_be_bytes()[..self.n]);
        key.extend_from_slice(self.rest);
    }
}

/// Walks the keys of a compact set in order from some bucket.
pub(crate) struct Cursor<'a> {
    set: &'a Compact,
    bucket: usize,
    /// The position in the bucket of the next key.
    pos: usize,
    bits: Option<Bits<'a>>,
    key: Vec<u8>,
    failed: bool,
}

impl Cursor<'_> {
    /// The next key, or `None` at the end (or on damaged bytes).
    pub(crate) fn next_key(&mut self) -> Option<&[u8]> {
        let set = self.set;
        if self.failed || self.bucket >= set.nbuckets {
            return None;
        }
        if self.pos == 0 {
            let Some((head, bits)) = set.open_bucket(self.bucket) else {
                self.failed = true;
                return None;
            };
            head.write_into(&mut self.key);
            self.bits = Some(bits);
        } else {
            let Some(bits) = self.bits.as_mut() else {
                self.failed = true;
                return None;
            };
            if !set.next_key(bits, &mut self.key) {
                self.failed = true;
                return None;
            }
        }
        self.pos += 1;
        if self.pos == set.bucket_len(self.bucket) {
            self.bucket += 1;
            self.pos = 0;
        }
        Some(&self.key)
    }
}

impl Compact {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn bucket_size(&self) -> usize {
        self.bucket
    }

    /// Heap bytes beside the serialised form (the two decode tables).
    pub(crate) fn table_bytes(&self) -> usize {
        3 * TABLE_SIZE * std::mem::size_of::<u16>() + 257 * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TextError;

    /// Keys around the four bytes kept in the prefix array: short ones, zero bytes (which
    /// the zero padding of the prefixes must not confuse), long runs sharing a prefix.
    fn keys() -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\0".to_vec(),
            b"\0\0".to_vec(),
            b"a".to_vec(),
            b"a\0".to_vec(),
            b"a\0\0\0".to_vec(),
            b"a\0\0\0\0".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"abcd".to_vec(),
            b"abcd\0".to_vec(),
            b"abcde".to_vec(),
            vec![0xff; 300],
        ];
        for i in 0..700u32 {
            keys.push(format!("pref{i:x}").into_bytes());
            keys.push(format!("prefix-{}", i * 7919 % 1000).into_bytes());
            keys.push(format!("{}{i}", "z".repeat((i % 40) as usize)).into_bytes());
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn open(body: Vec<u8>, keys: &[Vec<u8>], validate: bool) -> Result<Compact> {
        let longest = keys.iter().map(Vec::len).max().unwrap_or(0);
        Compact::new(
            Storage::Owned(body),
            0,
            keys.len() as u64,
            longest,
            validate,
        )
    }

    fn body(keys: &[Vec<u8>], bucket: usize) -> Vec<u8> {
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        build(&refs, bucket).unwrap()
    }

    /// Lookups must not panic on any bytes; on the real keys they must be right.
    fn exercise(set: &Compact, keys: &[Vec<u8>], exact: bool) {
        let mut key = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let found = set.index(k);
            let decoded = set.token_into(i as u64, &mut key);
            let mut miss = k.clone();
            miss.push(0);
            let above = set.index(&miss);
            if exact {
                assert_eq!(found, Some(i as u64), "{k:?}");
                assert!(decoded && key == *k);
                assert_eq!(above.is_some(), keys.binary_search(&miss).is_ok());
            }
        }
        let mut cursor = set.cursor(b"");
        let mut n = 0;
        while let Some(k) = cursor.next_key() {
            if exact {
                assert_eq!(k, keys[n].as_slice());
            }
            n += 1;
            if n > keys.len() {
                break;
            }
        }
        if exact {
            assert_eq!(n, keys.len());
        }
    }

    #[test]
    fn round_trip_across_offset_groups() {
        let keys = keys();
        for bucket in [1, 2, 3, 5, 16, 17, 32, 4096] {
            let body = body(&keys, bucket);
            let width = read_u32(&body, WIDTH_AT).unwrap();
            assert!(width <= 32);
            let set = open(body, &keys, true).unwrap();
            assert!(set.nbuckets > OFFSET_GROUP || bucket > 64);
            exercise(&set, &keys, true);
            // Misses between, below and above the keys.
            for q in [
                &b"abcc"[..],
                b"abcdd",
                b"pref",
                b"prefix-",
                b"\xff\xff",
                b"zz",
            ] {
                assert_eq!(set.index(q).is_some(), keys.iter().any(|k| k == q));
            }
        }
        let empty = open(body(&[], 16), &[], true).unwrap();
        assert_eq!(empty.index(b""), None);
        exercise(&empty, &[], true);
    }

    fn assert_corrupt(r: Result<Compact>, what: &str) {
        assert!(matches!(r, Err(TextError::Corrupt(_))), "{what}");
    }

    #[test]
    fn old_and_damaged_bodies_are_corrupt() {
        let keys = keys();
        let good = body(&keys, 16);
        let nb = keys.len().div_ceil(16);
        // A version-1 body starts with the bucket size.
        let mut b = good.clone();
        b[0..4].copy_from_slice(&16u32.to_le_bytes());
        assert_corrupt(open(b, &keys, false), "version 1 body");
        let width = read_u32(&good, WIDTH_AT).unwrap();
        for w in [0, width - 1, width + 1, 33, u32::MAX] {
            let mut b = good.clone();
            b[WIDTH_AT..WIDTH_AT + 4].copy_from_slice(&w.to_le_bytes());
            assert_corrupt(open(b, &keys, false), "offset width");
        }
        // Bucket 1 starting where bucket 0 does.
        let deltas_at = FIXED_LEN + 4 * nb.div_ceil(OFFSET_GROUP);
        let mut b = good.clone();
        for bit in width as usize..2 * width as usize {
            b[deltas_at + bit / 8] &= !(1 << (bit % 8));
        }
        assert_corrupt(open(b, &keys, false), "offsets out of order");
        // A group base past the data.
        let mut b = good.clone();
        b[FIXED_LEN + 4..FIXED_LEN + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_corrupt(open(b, &keys, false), "group base");
        // A short header (the empty key) whose prefix is not zero-padded.
        let prefixes_at = deltas_at + packed_len(nb, width as usize);
        let mut b = good.clone();
        b[prefixes_at] = 1;
        assert_corrupt(open(b, &keys, true), "prefix padding");
    }

    #[test]
    fn every_bit_flip_in_the_tables_is_safe() {
        let keys: Vec<Vec<u8>> = keys().into_iter().step_by(7).collect();
        let good = body(&keys, 4);
        let nb = keys.len().div_ceil(4);
        let width = read_u32(&good, WIDTH_AT).unwrap() as usize;
        let data_at = FIXED_LEN + 4 * nb.div_ceil(OFFSET_GROUP) + packed_len(nb, width) + 4 * nb;
        for at in FIXED_LEN..data_at + 64 {
            for bit in 0..8 {
                let mut b = good.clone();
                b[at] ^= 1 << bit;
                if let Ok(set) = open(b.clone(), &keys, false) {
                    exercise(&set, &keys, false);
                }
                if let Ok(set) = open(b, &keys, true) {
                    exercise(&set, &keys, false);
                }
            }
        }
    }
}
