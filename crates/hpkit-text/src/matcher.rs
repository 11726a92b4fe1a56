//! [`Matcher`]: many patterns found in one pass over a text, by an Aho-Corasick automaton
//! (the `aho-corasick` crate), with offsets in bytes or in code points.
//!
//! The search itself always runs over UTF-8 bytes. Code-point offsets come from a cursor
//! that walks the text once alongside the matches: matches arrive in order of their end
//! (in every mode), so the cursor only moves forward by the few bytes between two ends,
//! counting the bytes that start a code point; a match's start is its end minus the
//! pattern's length in code points (precomputed). An ASCII text skips all of that.

use crate::error::{invalid, Result, TextError};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind as AcMatchKind};
use rayon::prelude::*;

/// Pattern sets up to this many patterns get a full DFA (one table lookup per byte);
/// bigger ones a contiguous NFA. On chapter 12's 10,000 patterns the DFA's table is
/// 13 MiB against the NFA's 0.7 MiB, takes 5x longer to build and searches no faster
/// (the table no longer fits in cache), which is also the `aho-corasick` crate's own rule.
pub const DFA_MAX_PATTERNS: usize = 100;

/// An overlapping search is split over threads only for pieces of at least this many
/// bytes (below it, waking the pool costs more than it saves).
const PARALLEL_PIECE_MIN: usize = 1 << 18;

/// Which matches a search reports (the `aho-corasick` crate's semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    /// Every match the automaton sees: with `overlapping`, all (position, pattern) pairs;
    /// without, the match that ends first, then the search resumes after it.
    Standard,
    /// Non-overlapping, leftmost start; among patterns starting there, the one listed first
    /// (what a regex alternation `a|b|c` does).
    LeftmostFirst,
    /// Non-overlapping, leftmost start; among patterns starting there, the longest.
    LeftmostLongest,
}

impl MatchKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "standard" => Ok(MatchKind::Standard),
            "leftmost-first" => Ok(MatchKind::LeftmostFirst),
            "leftmost-longest" => Ok(MatchKind::LeftmostLongest),
            other => invalid(format!(
                "match_kind must be 'standard', 'leftmost-first' or 'leftmost-longest', \
                 got {other:?}"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Standard => "standard",
            MatchKind::LeftmostFirst => "leftmost-first",
            MatchKind::LeftmostLongest => "leftmost-longest",
        }
    }

    fn to_ac(self) -> AcMatchKind {
        match self {
            MatchKind::Standard => AcMatchKind::Standard,
            MatchKind::LeftmostFirst => AcMatchKind::LeftmostFirst,
            MatchKind::LeftmostLongest => AcMatchKind::LeftmostLongest,
        }
    }
}

/// The unit of reported offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offsets {
    Bytes,
    /// Code points; the text must be UTF-8 (as a Python `str` is).
    Chars,
}

/// One match: `text[start..end]` equals pattern number `pattern`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub pattern: usize,
}

/// A compiled set of patterns.
pub struct Matcher {
    ac: AhoCorasick,
    patterns: Vec<Box<[u8]>>,
    /// Each pattern's length in code points (its byte length for non-UTF-8 patterns,
    /// which only byte offsets use).
    char_lens: Vec<usize>,
    max_pattern_len: usize,
    kind: MatchKind,
    ascii_case_insensitive: bool,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("patterns", &self.patterns.len())
            .field("kind", &self.kind)
            .field("ascii_case_insensitive", &self.ascii_case_insensitive)
            .field("automaton", &self.automaton())
            .finish()
    }
}

/// The number of code points that start in `bytes` (UTF-8).
#[inline]
fn count_chars(bytes: &[u8]) -> usize {
    // Continuation bytes are 0b10xx_xxxx, i.e. -64..=-65 as i8; written branch-free so
    // long gaps vectorise.
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// Converts byte offsets to code-point offsets, moving from the last one converted.
struct CharCursor<'h> {
    hay: &'h [u8],
    byte: usize,
    char: usize,
}

impl<'h> CharCursor<'h> {
    fn new(hay: &'h [u8]) -> Self {
        CharCursor {
            hay,
            byte: 0,
            char: 0,
        }
    }

    #[inline]
    fn advance_to(&mut self, byte: usize) -> usize {
        if byte >= self.byte {
            self.char += count_chars(&self.hay[self.byte..byte]);
        } else {
            self.char -= count_chars(&self.hay[byte..self.byte]);
        }
        self.byte = byte;
        self.char
    }
}

impl Matcher {
    /// Compile `patterns` (at least one, none empty; duplicates allowed, each keeps its
    /// own index).
    pub fn new<P: AsRef<[u8]>>(
        patterns: &[P],
        kind: MatchKind,
        ascii_case_insensitive: bool,
    ) -> Result<Self> {
        if patterns.is_empty() {
            return invalid("a Matcher needs at least one pattern");
        }
        if let Some(i) = patterns.iter().position(|p| p.as_ref().is_empty()) {
            return invalid(format!(
                "pattern {i} is empty (an empty pattern would match at every position)"
            ));
        }
        let automaton = if patterns.len() <= DFA_MAX_PATTERNS {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let ac = AhoCorasick::builder()
            .match_kind(kind.to_ac())
            .ascii_case_insensitive(ascii_case_insensitive)
            .kind(Some(automaton))
            .build(patterns)
            .map_err(|e| TextError::InvalidArgument(format!("cannot build the matcher: {e}")))?;
        let patterns: Vec<Box<[u8]>> = patterns.iter().map(|p| p.as_ref().into()).collect();
        let char_lens = patterns
            .iter()
            .map(|p| match std::str::from_utf8(p) {
                Ok(s) => s.chars().count(),
                Err(_) => p.len(),
            })
            .collect();
        let max_pattern_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        Ok(Matcher {
            ac,
            patterns,
            char_lens,
            max_pattern_len,
            kind,
            ascii_case_insensitive,
        })
    }

    pub fn patterns(&self) -> &[Box<[u8]>] {
        &self.patterns
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn match_kind(&self) -> MatchKind {
        self.kind
    }

    pub fn ascii_case_insensitive(&self) -> bool {
        self.ascii_case_insensitive
    }

    /// The automaton chosen: "dfa" or "contiguous-nfa".
    pub fn automaton(&self) -> &'static str {
        match self.ac.kind() {
            AhoCorasickKind::DFA => "dfa",
            AhoCorasickKind::ContiguousNFA => "contiguous-nfa",
            AhoCorasickKind::NoncontiguousNFA => "noncontiguous-nfa",
            _ => "other",
        }
    }

    /// Heap bytes of the automaton.
    pub fn memory_usage(&self) -> usize {
        self.ac.memory_usage()
    }

    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.ac.is_match(hay)
    }

    fn check_overlapping(&self, overlapping: bool) -> Result<()> {
        if overlapping && self.kind != MatchKind::Standard {
            return invalid(format!(
                "overlapping matches need match_kind='standard' (this matcher is {:?})",
                self.kind.name()
            ));
        }
        Ok(())
    }

    /// Call `each(start, end, pattern)` (byte offsets into `hay`) for every match, in
    /// order of end.
    fn for_each_match(
        &self,
        hay: &[u8],
        overlapping: bool,
        mut each: impl FnMut(usize, usize, usize),
    ) -> Result<()> {
        self.check_overlapping(overlapping)?;
        let error = |e: aho_corasick::MatchError| TextError::InvalidArgument(e.to_string());
        if overlapping {
            for m in self.ac.try_find_overlapping_iter(hay).map_err(error)? {
                each(m.start(), m.end(), m.pattern().as_usize());
            }
        } else {
            for m in self.ac.try_find_iter(hay).map_err(error)? {
                each(m.start(), m.end(), m.pattern().as_usize());
            }
        }
        Ok(())
    }

    /// The matches that end in `hay[lo..hi]` (after `lo`, up to and including `hi`),
    /// searching from `from <= lo`. Exact for an overlapping search when `lo - from` is at
    /// least the longest pattern less one: every such match starts at or after `from`,
    /// and the automaton is in the same state there as when searching from 0.
    fn find_window(
        &self,
        hay: &[u8],
        window: (usize, usize, usize),
        overlapping: bool,
        chars: bool,
    ) -> Result<Vec<Found>> {
        let mut out = Vec::with_capacity((window.2 - window.0) / 4);
        self.each_in_window(hay, window, overlapping, chars, |f| out.push(f))?;
        Ok(out)
    }

    /// [`Matcher::find_window`], handing each match to `push` instead of collecting them.
    fn each_in_window(
        &self,
        hay: &[u8],
        (from, lo, hi): (usize, usize, usize),
        overlapping: bool,
        chars: bool,
        mut push: impl FnMut(Found),
    ) -> Result<()> {
        let window = &hay[from..hi];
        if !chars {
            self.for_each_match(window, overlapping, |start, end, pattern| {
                if from + end > lo {
                    push(Found {
                        start: from + start,
                        end: from + end,
                        pattern,
                    })
                }
            })
        } else {
            let mut cursor = CharCursor::new(window);
            let base = count_chars(&hay[..from]);
            self.for_each_match(window, overlapping, |_, end, pattern| {
                if from + end > lo {
                    let end = base + cursor.advance_to(end);
                    push(Found {
                        start: end - self.char_lens[pattern],
                        end,
                        pattern,
                    })
                }
            })
        }
    }

    /// [`Matcher::find_all`] in one pass on this thread, handing the matches to `sink` in
    /// order, in batches of `batch` (the last may be shorter), as they are found - so a
    /// caller can turn early batches into Python objects while the search goes on.
    /// Once `sink` returns `false` the search still finishes but nothing more is handed.
    pub fn find_batches(
        &self,
        hay: &[u8],
        overlapping: bool,
        offsets: Offsets,
        batch: usize,
        mut sink: impl FnMut(Vec<Found>) -> bool,
    ) -> Result<()> {
        self.check_overlapping(overlapping)?;
        let chars = offsets == Offsets::Chars && !hay.is_ascii();
        let batch = batch.max(1);
        let mut out = Vec::with_capacity(batch);
        let mut open = true;
        self.each_in_window(hay, (0, 0, hay.len()), overlapping, chars, |f| {
            if open {
                out.push(f);
                if out.len() == batch {
                    open = sink(std::mem::replace(&mut out, Vec::with_capacity(batch)));
                }
            }
        })?;
        if open && !out.is_empty() {
            sink(out);
        }
        Ok(())
    }

    /// Every match in `hay`, in order of end position (then as the automaton reports
    /// them). `overlapping` needs [`MatchKind::Standard`].
    ///
    /// An overlapping search of a long text runs on every core of the current rayon pool:
    /// the text is cut into pieces, each searched from the longest pattern's length
    /// before its start, keeping the matches that end inside it (see `find_window`).
    /// Non-overlapping matches depend on every match before them, so they are found in
    /// one pass.
    pub fn find_all(&self, hay: &[u8], overlapping: bool, offsets: Offsets) -> Result<Vec<Found>> {
        self.check_overlapping(overlapping)?;
        let chars = offsets == Offsets::Chars && !hay.is_ascii();
        let pieces = if overlapping {
            (hay.len() / PARALLEL_PIECE_MIN).min(rayon::current_num_threads())
        } else {
            1
        };
        self.find_pieces(hay, overlapping, chars, pieces)
    }

    /// [`Matcher::find_all`] with the text cut into `pieces` (overlapping search only).
    fn find_pieces(
        &self,
        hay: &[u8],
        overlapping: bool,
        chars: bool,
        pieces: usize,
    ) -> Result<Vec<Found>> {
        if pieces <= 1 || !overlapping {
            return self.find_window(hay, (0, 0, hay.len()), overlapping, chars);
        }
        // Piece ends on code-point boundaries, so each window's char count starts cleanly.
        let mut ends: Vec<usize> = (0..=pieces)
            .map(|j| {
                let mut at = hay.len() / pieces * j;
                while at < hay.len() && (hay[at] as i8) < -0x40 {
                    at += 1;
                }
                at
            })
            .collect();
        ends[pieces] = hay.len();
        let reach = self.max_pattern_len.saturating_sub(1);
        let parts = ends
            .par_windows(2)
            .map(|w| self.find_window(hay, (w[0].saturating_sub(reach), w[0], w[1]), true, chars))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for part in parts {
            out.extend(part);
        }
        Ok(out)
    }

    /// The number of matches [`Matcher::find_all`] would return.
    pub fn count(&self, hay: &[u8], overlapping: bool) -> Result<usize> {
        let mut n = 0;
        self.for_each_match(hay, overlapping, |_, _, _| n += 1)?;
        Ok(n)
    }

    /// [`Matcher::find_all`] over many texts, on every core.
    pub fn find_all_many(
        &self,
        hays: &[&[u8]],
        overlapping: bool,
        offsets: Offsets,
    ) -> Result<Vec<Vec<Found>>> {
        self.check_overlapping(overlapping)?;
        hays.par_iter()
            .map(|h| self.find_all(h, overlapping, offsets))
            .collect()
    }

    /// `hay` with every non-overlapping match (this matcher's kind; standard reports the
    /// match that ends first) replaced by `replacements[pattern]`.
    pub fn replace_all<R: AsRef<[u8]>>(&self, hay: &[u8], replacements: &[R]) -> Result<Vec<u8>> {
        if replacements.len() != self.patterns.len() {
            return invalid(format!(
                "replace_all needs one replacement per pattern: {} patterns, {} replacements",
                self.patterns.len(),
                replacements.len()
            ));
        }
        self.ac
            .try_replace_all_bytes(hay, replacements)
            .map_err(|e| TextError::InvalidArgument(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every (start, pattern) pair where the pattern occurs, in (end, start) order.
    fn brute_overlapping(patterns: &[&str], hay: &str, offsets: Offsets) -> Vec<Found> {
        let mut out = Vec::new();
        for (start, _) in hay.char_indices() {
            for (i, p) in patterns.iter().enumerate() {
                if hay[start..].starts_with(p) {
                    out.push(Found {
                        start,
                        end: start + p.len(),
                        pattern: i,
                    });
                }
            }
        }
        if offsets == Offsets::Chars {
            for f in &mut out {
                f.start = hay[..f.start].chars().count();
                f.end = hay[..f.end].chars().count();
            }
        }
        out.sort();
        out
    }

    /// Leftmost-first / leftmost-longest by trying every pattern at each position.
    fn brute_leftmost(patterns: &[&str], hay: &str, longest: bool) -> Vec<Found> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < hay.len() {
            let mut best: Option<(usize, usize)> = None;
            for (i, p) in patterns.iter().enumerate() {
                if hay[at..].starts_with(p) {
                    best = match best {
                        None => Some((i, p.len())),
                        Some((_, len)) if longest && p.len() > len => Some((i, p.len())),
                        keep => keep,
                    };
                }
            }
            match best {
                Some((i, len)) => {
                    out.push(Found {
                        start: at,
                        end: at + len,
                        pattern: i,
                    });
                    at += len;
                }
                None => at += hay[at..].chars().next().map_or(1, |c| c.len_utf8()),
            }
        }
        out
    }

    fn sorted(mut v: Vec<Found>) -> Vec<Found> {
        v.sort();
        v
    }

    #[test]
    fn table() {
        let m = Matcher::new(&["he", "she", "his", "hers"], MatchKind::Standard, false).unwrap();
        let found = m.find_all(b"ushers", true, Offsets::Bytes).unwrap();
        let tuples: Vec<_> = found.iter().map(|f| (f.start, f.end, f.pattern)).collect();
        assert_eq!(tuples, vec![(1, 4, 1), (2, 4, 0), (2, 6, 3)]);
        assert_eq!(m.count(b"ushers", true).unwrap(), 3);
        assert!(m.is_match(b"xhisx"));
        assert!(!m.is_match(b"xyz"));

        let m = Matcher::new(&["é", "café", "a"], MatchKind::Standard, false).unwrap();
        let found = m
            .find_all("un café".as_bytes(), true, Offsets::Chars)
            .unwrap();
        let tuples: Vec<_> = found.iter().map(|f| (f.start, f.end, f.pattern)).collect();
        assert_eq!(tuples, vec![(4, 5, 2), (3, 7, 1), (6, 7, 0)]);
        let found = m
            .find_all("un café".as_bytes(), true, Offsets::Bytes)
            .unwrap();
        let tuples: Vec<_> = found.iter().map(|f| (f.start, f.end, f.pattern)).collect();
        assert_eq!(tuples, vec![(4, 5, 2), (3, 8, 1), (6, 8, 0)]);
    }

    #[test]
    fn errors() {
        let none: [&str; 0] = [];
        assert!(matches!(
            Matcher::new(&none, MatchKind::Standard, false),
            Err(TextError::InvalidArgument(_))
        ));
        assert!(Matcher::new(&["a", ""], MatchKind::Standard, false).is_err());
        assert!(MatchKind::parse("longest").is_err());
        let m = Matcher::new(&["a"], MatchKind::LeftmostFirst, false).unwrap();
        assert!(m.find_all(b"aa", true, Offsets::Bytes).is_err());
        assert!(m.find_all_many(&[b"aa"], true, Offsets::Bytes).is_err());
        assert!(m.replace_all(b"aa", &["x", "y"]).is_err());
        assert_eq!(m.replace_all(b"aba", &["x"]).unwrap(), b"xbx");
    }

    #[test]
    fn case_insensitive() {
        let m = Matcher::new(&["abc", "Ü"], MatchKind::Standard, true).unwrap();
        let found = m
            .find_all("xÜABCü".as_bytes(), true, Offsets::Chars)
            .unwrap();
        let tuples: Vec<_> = found.iter().map(|f| (f.start, f.end, f.pattern)).collect();
        assert_eq!(tuples, vec![(1, 2, 1), (2, 5, 0)]);
    }

    proptest! {
        #[test]
        fn overlapping_is_every_occurrence(
            patterns in proptest::collection::vec("[ab\u{e9}\u{1F600}]{1,4}", 1..8),
            hay in "[ab\u{e9}\u{1F600} ]{0,40}",
        ) {
            let refs: Vec<&str> = patterns.iter().map(|s| s.as_str()).collect();
            let m = Matcher::new(&refs, MatchKind::Standard, false).unwrap();
            for offsets in [Offsets::Bytes, Offsets::Chars] {
                let got = m.find_all(hay.as_bytes(), true, offsets).unwrap();
                // Reported in order of end.
                prop_assert!(got.windows(2).all(|w| w[0].end <= w[1].end));
                prop_assert_eq!(sorted(got), brute_overlapping(&refs, &hay, offsets));
            }
            prop_assert_eq!(m.count(hay.as_bytes(), true).unwrap(),
                            brute_overlapping(&refs, &hay, Offsets::Bytes).len());
        }

        #[test]
        fn pieces_change_nothing(
            patterns in proptest::collection::vec("[ab\u{e9}\u{1F600}]{1,5}", 1..8),
            hay in "[ab\u{e9}\u{1F600} ]{0,60}",
            pieces in 2usize..7,
        ) {
            let refs: Vec<&str> = patterns.iter().map(|s| s.as_str()).collect();
            let m = Matcher::new(&refs, MatchKind::Standard, false).unwrap();
            for chars in [false, true] {
                let whole = m.find_pieces(hay.as_bytes(), true, chars, 1).unwrap();
                prop_assert_eq!(m.find_pieces(hay.as_bytes(), true, chars, pieces).unwrap(), whole);
            }
        }

        #[test]
        fn leftmost_matches_reference(
            patterns in proptest::collection::vec("[ab\u{e9}]{1,4}", 1..8),
            hay in "[ab\u{e9} ]{0,40}",
        ) {
            let refs: Vec<&str> = patterns.iter().map(|s| s.as_str()).collect();
            for (kind, longest) in [(MatchKind::LeftmostFirst, false), (MatchKind::LeftmostLongest, true)] {
                let m = Matcher::new(&refs, kind, false).unwrap();
                let got = m.find_all(hay.as_bytes(), false, Offsets::Bytes).unwrap();
                prop_assert_eq!(got, brute_leftmost(&refs, &hay, longest));
            }
        }
    }
}
