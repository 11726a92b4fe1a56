"""Compact token stores and many-pattern matching (book chapters 11 and 12; Rust core).

* :class:`TokenSet` - an immutable set of strings, by default front-coded in buckets of
  16 with Huffman-coded suffixes (about 2.4 bytes per English word, less than
  marisa-trie), or ``layout="fst"``: a minimal finite state transducer (prefixes and
  suffixes shared; about twice the bytes, faster lookups), with stable integer ids (a
  token's id is its rank in sorted order), prefix search, and files that several
  processes memory-map and share::

      words = TokenSet.build(tokens)          # any iterable of str, duplicates fine
      "the" in words, words.index("the"), words.token(0), words.keys("pre")
      words.contains_many(batch)              # numpy bool array, GIL released
      words.save("words.hpkt"); TokenSet.open("words.hpkt")   # mmap, shared

* :class:`Matcher` - thousands of patterns found in one pass (Aho-Corasick)::

      m = Matcher(["he", "she", "hers"])      # match_kind="standard": every occurrence
      m.find_iter("ushers")                   # [(1, 4, 1), (2, 4, 0), (2, 6, 2)]
      m.find_iter_many(texts)                 # in parallel, GIL released

  Offsets are code points for ``str`` (``text[start:end]`` is the match) and bytes for
  ``bytes``.

Both classes pickle, and corrupted or truncated token-set bytes or files raise
:class:`hpkit.errors.CorruptDataError` (a ``ValueError``).
"""

from __future__ import annotations

from hpkit._native import Matcher, TokenSet

__all__ = ["Matcher", "TokenSet"]
