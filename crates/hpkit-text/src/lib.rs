//! # hpkit-text
//!
//! The two text structures behind `hpkit.text` (the book's chapters 11 and 12: using less
//! RAM for many strings, and matching many phrases against live text). Pure Rust: byte
//! slices in, Rust values and [`TextError`] out; `hpkit-py` does the Python side.
//!
//! * [`TokenSet`] - an immutable set of strings with ranks, stored by default as a minimal
//!   acyclic finite state transducer (Daciuk, Mihov, Watson and Watson, "Incremental construction
//!   of minimal acyclic finite-state automata", Computational Linguistics 26(1), 2000;
//!   the `fst` crate, described in Andrew Gallant's "Index 1,600,000,000 keys with
//!   automata and Rust", 2015). Shared prefixes *and* suffixes are stored once, so the
//!   ~300k distinct words of an English token stream take a few bytes each; each key
//!   maps to its rank, which gives stable integer ids both ways. The serialised form is
//!   the in-memory form, so a saved set is memory-mapped (`memmap2`) and every process
//!   that opens it shares one copy in the page cache. [`Layout::Compact`] stores the
//!   sorted keys front-coded in buckets with Huffman-coded suffixes instead
//!   ([`compact`]): under half the bytes, lookups about 2.5x slower.
//! * [`Matcher`] - many patterns found in one pass by an Aho-Corasick automaton (Aho and
//!   Corasick, "Efficient string matching: an aid to bibliographic search", CACM 18(6),
//!   1975; the `aho-corasick` crate): a DFA for up to [`matcher::DFA_MAX_PATTERNS`]
//!   patterns, a contiguous NFA (as fast there, a twentieth of the memory) beyond. Offsets are bytes, or
//!   code points computed by one forward walk beside the matches (Python `str` indices).
//!
//! Limits: a set is immutable (build a new one to change it); lookups cost one node
//! decode per key byte, so a hash set is faster when memory does not matter. Opening a
//! file checks its CRC-32 by reading it once; a mapped file must not be overwritten in
//! place while open ([`TokenSet::save`] writes a new file and renames it). Matching is on
//! bytes, so `ascii_case_insensitive` folds only ASCII letters.

pub mod compact;
mod error;
pub mod matcher;
mod storage;
pub mod token_set;

pub use error::{Result, TextError};
pub use matcher::{Found, MatchKind, Matcher, Offsets};
pub use token_set::{Layout, TokenSet, TokenSetBuilder};
