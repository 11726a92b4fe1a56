"""Chapter 11: probabilistic counting - the book's sketches against hpkit and the peers.

``hpkit lab sketches`` runs seven tables; every row's answer is checked before it is timed:

* ``sketches-hll``, ``sketches-kmv``, ``sketches-loglog`` (W11.3): the book's items
  ``str(i)`` for ``i < n`` (case ``int64``: the integers, hashed as 8 little-endian bytes).
  The pure-Python book versions (:mod:`hpkit.reference.sketch`, on ``mmh3``) are the
  oracles: hpkit in ``variant="book", hash="murmur3"`` must reproduce them exactly
  (and WORKLOADS.md's numbers at n = 1e6: HLL 1,002,796.3523436624, ...); hpkit's default
  variant and the peers must land within 5 standard errors of the true count. The time is
  adding all items and estimating (throughput); columns show the estimate, its error and
  the structure's size.
* ``sketches-bloom``: fill a Bloom filter to capacity, query every added key (a false
  negative fails the row) and ``misses`` keys never added: measured false-positive rate
  against the target.
* ``sketches-scaling``: the book's scaling Bloom filter (W11.3: 1,000,110.653608727, 2
  filters, 386 skipped at n = 1e6), and the overall false-positive rate after growing to
  64 times the initial capacity.
* ``sketches-tokens``: the book's accuracy table, on the seeded Zipf stream of W11.2 (true
  distinct count from a Python set).
* ``sketches-hll-rmse``: HyperLogLog's relative RMSE over many seeds at equal memory
  (hpkit against Apache DataSketches at the size with the same serialized bytes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hpkit.lab.model import (
    Case,
    Check,
    Experiment,
    Implementation,
    Kind,
    LimitModel,
    Metric,
    Param,
    Params,
    Skip,
    Workload,
)
from hpkit.lab.peers import require

#: allowed relative error of a statistical estimate, in standard errors
SIGMAS = 5.0
#: WORKLOADS.md W11.3 (verified with oracles/ch11_sketches.py), items str(i), i < 1e6:
#: (structure, parameter) -> (estimate, absolute tolerance; 0 = exact)
KNOWN_1E6 = {
    ("hll", 16): (1_002_796.3523436624, 0.0),
    ("kmv", 65_536): (996_706.4595653383, 0.0),
    ("kmv-chapter", 65_536): (994_342.6139402173, 0.0),
    ("loglog", 16): (1_834_690.42, 0.01),
    ("superloglog", 16): (664_297.23, 0.01),
}
#: W11.3's scaling Bloom filter at n = 1e6, capacity 2**20, p = 0.005
KNOWN_SCALING = {(1_000_000, 1_048_576, 0.005): (1_000_110.653608727, 2, 386)}
#: W11.3's Bloom sizing: (capacity, p) -> (num_bits, num_hashes)
KNOWN_BLOOM_PARAMS = {
    (2_048, 0.005): (22_585, 8),
    (1_048_576, 0.005): (11_563_438, 8),
    (1_048_576, 0.0025): (13_076_213, 9),
}
#: W11.2: distinct tokens in the first n stream tokens
KNOWN_DISTINCT = {1_000_000: 149_612, 8_000_000: 307_067}
#: the book's table on Wikipedia tokens (book-reported, not re-verified)
BOOK_TABLE = "HLL +0.54%, KMV -0.88%, ScalingBloom -0.14%, LogLog -8.76%, Morris -6.5%"

MURMUR = {"hash": "murmur3", "variant": "book"}


def _first(error: BaseException) -> str:
    """An import error's message without the path of the module it looked in."""
    return str(error).split(" (")[0]


def _int(params: Params, name: str) -> int:
    value = params[name]
    assert isinstance(value, int)
    return value


def _float(params: Params, name: str) -> float:
    value = params[name]
    assert isinstance(value, int | float)
    return float(value)


def _book() -> Any:
    """The pure-Python references need ``mmh3``."""
    require("mmh3")
    from hpkit.reference import sketch

    return sketch


def _hpkit(name: str) -> Any:
    """An ``hpkit.sketch`` class, or skip with the reason (the extension not built yet)."""
    try:
        from hpkit import sketch
    except ImportError as error:
        raise Skip(f"hpkit.sketch is not available: {_first(error)}") from None
    found = getattr(sketch, name, None)
    if found is None:
        raise Skip(f"hpkit.sketch has no {name}")
    return found


def _nbytes(structure: Any) -> int | None:
    size = getattr(structure, "nbytes", None)
    return int(size) if isinstance(size, int) else None


# --- items ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Items:
    """One run's keys in every form the rows take, built before timing."""

    kind: str  # "str" or "int64"
    python: list[Any]  # list of str or of int
    array: npt.NDArray[Any] | None  # int64 array (int case) for hpkit
    book: list[Any]  # what the mmh3 references hash: str, or 8-byte keys

    @property
    def hpkit(self) -> Any:
        return self.array if self.array is not None else self.python


def _int64_bytes(values: npt.NDArray[np.int64]) -> list[bytes]:
    raw = values.astype("<i8").tobytes()
    return [raw[i : i + 8] for i in range(0, len(raw), 8)]


@functools.lru_cache(maxsize=4)
def _items(kind: str, start: int, n: int) -> Items:
    if kind == "str":
        strings = [str(i) for i in range(start, start + n)]
        return Items(kind, strings, None, strings)
    if kind == "int64":
        array = np.arange(start, start + n, dtype=np.int64)
        return Items(kind, array.tolist(), array, _int64_bytes(array))
    raise Skip(f"unknown item kind {kind!r} (str or int64)")


def _case_items(params: Params) -> Items:
    """The run's items: the case's kind (``str`` or ``int64``), ``str`` otherwise."""
    kind = params.get("case")
    return _items(kind if kind in ("str", "int64") else "str", 0, _int(params, "n"))


# --- cardinality estimates --------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A counter's answer and how to check it (decided in setup, outside the timing).

    ``exact_oracle``: must equal the reference row's estimate bit for bit; ``known``:
    a WORKLOADS.md value ``(estimate, absolute tolerance)``; ``tolerance``: the allowed
    relative error against ``truth`` (statistical rows).
    """

    value: float
    truth: int
    nbytes: int | None = None
    exact_oracle: bool = False
    known: tuple[float, float] | None = None
    tolerance: float | None = None
    definition: bool = False  # a reference row: correct by definition
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def error(self) -> float:
        return self.value / self.truth - 1.0 if self.truth else math.nan


def _estimate_validate(params: Params, est: Estimate, oracle: Estimate | None) -> Check:
    problems, said = [], []
    if est.known is not None:
        value, slack = est.known
        if abs(est.value - value) > slack:
            problems.append(f"{est.value!r}, WORKLOADS.md says {value!r}")
        else:
            said.append(f"{est.value!r} = WORKLOADS.md")
    if est.exact_oracle:
        if oracle is None:
            problems.append("no reference estimate to compare with")
        elif est.value != oracle.value:
            problems.append(f"{est.value!r} differs from the book version's {oracle.value!r}")
        elif est is not oracle:
            said.append("identical to the book version")
    if est.tolerance is not None:
        if not abs(est.error) <= est.tolerance:
            problems.append(
                f"error {est.error:+.3%} is beyond ±{est.tolerance:.2%} ({SIGMAS:g} std errors)"
            )
        else:
            said.append(f"error {est.error:+.3%} within ±{est.tolerance:.2%}")
    if problems:
        return Check(False, "; ".join(problems))
    if not said:
        if est.definition:
            return Check(True, f"{est.value!r} (the book's definition; no known answer here)")
        return Check(False, "nothing to check this estimate against")
    return Check(True, ", ".join(said))


def _estimate_metrics(unit: str = "items") -> tuple[Metric, ...]:
    return (
        Metric("Estimate", lambda p, e, t: e.value, "{:,.1f}"),
        Metric("Error", lambda p, e, t: 100 * e.error, "{:+.3f}%"),
        Metric("KiB", lambda p, e, t: None if e.nbytes is None else e.nbytes / 1024, "{:,.1f}"),
    )


def _items_per_second(params: Params, oracle: object) -> float:
    return _int(params, "n") / 1e6


def _throughput(unit: str = "M items/s") -> LimitModel:
    return LimitModel(
        label="",
        rate_unit=unit,
        work=_items_per_second,
        peak=None,
        explanation="items added (and the estimate taken) per second",
    )


def _rse_tolerance(rse: float) -> float:
    return SIGMAS * rse


def _known(params: Params, structure: str, parameter: int) -> tuple[float, float] | None:
    if params.get("case", "str") != "str" or _int(params, "n") != 1_000_000:
        return None
    return KNOWN_1E6.get((structure, parameter))


Runner = Callable[[Items], tuple[float, int | None]]


def _row(
    name: str,
    kind: Kind,
    make: Callable[[Params], Runner],
    note: str,
    check: Callable[[Params], dict[str, Any]],
) -> Implementation:
    """An estimator row: ``make(params)`` returns ``run(items) -> (estimate, nbytes)``;
    ``check(params)`` says how its estimate is checked (see :class:`Estimate`)."""

    def setup(params: Params) -> Workload:
        run = make(params)
        items = _case_items(params)
        rules = check(params)
        truth = len(items.python)

        def workload() -> Estimate:
            value, nbytes = run(items)
            return Estimate(float(value), truth, nbytes, **rules)

        return workload

    return Implementation(name, kind, setup, note)


def _book_counter(factory: Callable[[Params], Any]) -> Callable[[Params], Runner]:
    def make(params: Params) -> Runner:
        def run(items: Items) -> tuple[float, int | None]:
            counter = factory(params)
            counter.add_many(items.book)
            return counter.estimate(), None

        return run

    return make


def _hpkit_counter(name: str, param: str, **options: str) -> Callable[[Params], Runner]:
    def make(params: Params) -> Runner:
        cls = _hpkit(name)
        size = _int(params, param)

        def run(items: Items) -> tuple[float, int | None]:
            counter = cls(size, **options)
            counter.add_many(items.hpkit)
            return counter.estimate(), _nbytes(counter)

        return run

    return make


def _datasketches_hll(lg_k_param: str = "p", tgt: str = "HLL_4") -> Callable[[Params], Runner]:
    def make(params: Params) -> Runner:
        ds = require("datasketches")
        lg_k = _int(params, lg_k_param)
        target = getattr(ds.tgt_hll_type, tgt)

        def run(items: Items) -> tuple[float, int | None]:
            sketch = ds.hll_sketch(lg_k, target)
            update = sketch.update
            for item in items.python:
                update(item)
            return sketch.get_estimate(), sketch.get_compact_serialization_bytes()

        return run

    return make


def _datasketch_hll(params: Params) -> Runner:
    datasketch = require("datasketch")
    p = _int(params, "p")

    def run(items: Items) -> tuple[float, int | None]:
        sketch = datasketch.HyperLogLog(p=p)
        update = sketch.update
        if items.kind == "str":
            for item in items.python:
                update(item.encode())
        else:
            for key in items.book:
                update(key)
        return sketch.count(), int(sketch.reg.nbytes)

    return run


def _hyperloglog(params: Params) -> Runner:
    hyperloglog = require("hyperloglog")
    m = 1 << _int(params, "p")
    error_rate = 1.04 / math.sqrt(m) * 1.0001  # the package derives m from the error rate

    def run(items: Items) -> tuple[float, int | None]:
        sketch = hyperloglog.HyperLogLog(error_rate)
        sketch.add_bulk(items.python)
        return sketch.card(), int(np.asarray(sketch.M).nbytes)

    return run


def _theta(params: Params) -> Runner:
    ds = require("datasketches")
    lg_k = round(math.log2(_int(params, "k")))

    def run(items: Items) -> tuple[float, int | None]:
        sketch = ds.update_theta_sketch(lg_k)
        update = sketch.update
        for item in items.python:
            update(item)
        return sketch.get_estimate(), len(sketch.compact().serialize())

    return run


def _hll_experiment() -> Experiment:
    def hll_rse(params: Params) -> dict[str, Any]:
        return {"tolerance": _rse_tolerance(1.04 / math.sqrt(1 << _int(params, "p")))}

    def book_rules(params: Params) -> dict[str, Any]:
        return {"known": _known(params, "hll", _int(params, "p")), "definition": True}

    def exact_rules(params: Params) -> dict[str, Any]:
        return {"exact_oracle": True, "known": _known(params, "hll", _int(params, "p"))}

    rows = (
        _row(
            "book HyperLogLog (pure Python, mmh3)",
            Kind.REFERENCE,
            _book_counter(lambda p: _book().HyperLogLog(_int(p, "p"))),
            "countmemaybe semantics, hpkit.reference.sketch",
            book_rules,
        ),
        _row(
            "hpkit HyperLogLog book, murmur3",
            Kind.HPKIT,
            _hpkit_counter("HyperLogLog", "p", **MURMUR),
            "variant='book', hash='murmur3'",
            exact_rules,
        ),
        _row(
            "hpkit HyperLogLog default",
            Kind.HPKIT,
            _hpkit_counter("HyperLogLog", "p"),
            "xxh3, HLL++ sparse then dense",
            hll_rse,
        ),
        _row(
            "datasketches hll_sketch HLL_4",
            Kind.PEER,
            _datasketches_hll(),
            "lg_k = p; a Python loop of update()",
            hll_rse,
        ),
        _row(
            "datasketch HyperLogLog",
            Kind.PEER,
            _datasketch_hll,
            "p = p; update(bytes) per item (str encoded in the loop)",
            hll_rse,
        ),
        _row(
            "hyperloglog HyperLogLog",
            Kind.PEER,
            _hyperloglog,
            "error_rate = 1.04/sqrt(2**p); add_bulk (SHA-1)",
            hll_rse,
        ),
    )
    return Experiment(
        name="sketches-hll",
        chapter=11,
        title="HyperLogLog: the book's numbers, accuracy and add throughput",
        params=(
            Param("case", full="all", quick="all", help="str, int64 or all"),
            Param("n", full=1_000_000, quick=30_000, help="distinct items added", minimum=1),
            Param("p", full=16, quick=16, help="log2 of the registers (the book's b)", minimum=4),
        ),
        cases=(
            Case("str", {}, {}),
            Case("int64", {}, {}),
        ),
        implementations=rows,
        validate=_estimate_validate,
        metrics=_estimate_metrics(),
        limit=_throughput(),
        notes=(
            "Items: str(i) for i < n (case str: hpkit and the peers get a list of str) or "
            "the same integers (case int64: hpkit gets a numpy int64 array, the peers a list "
            "of int). The book version (the oracle) hashes str, or the 8-byte little-endian "
            "integers, with mmh3.",
            "W11.3 at n = 1e6, p = 16: 1,002,796.3523436624 (countmemaybe: sign bit dropped, "
            "log2 range corrections - neither runs here). hpkit book/murmur3 must equal the "
            "book version bit for bit; the other rows must be within 5 x 1.04/sqrt(2**p) "
            "of n.",
            "KiB: the structure's own size (hpkit nbytes, datasketches compact "
            "serialization, the peers' register arrays).",
        ),
    )


def _kmv_experiment() -> Experiment:
    def kmv_rse(params: Params) -> dict[str, Any]:
        return {"tolerance": _rse_tolerance(1 / math.sqrt(_int(params, "k") - 2))}

    def book_rules(params: Params) -> dict[str, Any]:
        return {"known": _known(params, "kmv", _int(params, "k")), "definition": True}

    def chapter_rules(params: Params) -> dict[str, Any]:
        return {"known": _known(params, "kmv-chapter", _int(params, "k")), **kmv_rse(params)}

    def exact_rules(params: Params) -> dict[str, Any]:
        return {"exact_oracle": True, "known": _known(params, "kmv", _int(params, "k"))}

    rows = (
        _row(
            "book KMV (pure Python, mmh3)",
            Kind.REFERENCE,
            _book_counter(lambda p: _book().KMinValues(_int(p, "k"))),
            "countmemaybe: k smallest keys hash & (2**31 - 1)",
            book_rules,
        ),
        _row(
            "chapter's KMV listing (pure Python)",
            Kind.REFERENCE,
            _book_counter(lambda p: _book().KMinValuesChapter(_int(p, "k"))),
            "signed hashes, divides by the second-largest kept (a quirk)",
            chapter_rules,
        ),
        _row(
            "hpkit KMV book, murmur3",
            Kind.HPKIT,
            _hpkit_counter("KMV", "k", **MURMUR),
            "variant='book', hash='murmur3'",
            exact_rules,
        ),
        _row("hpkit KMV default", Kind.HPKIT, _hpkit_counter("KMV", "k"), "xxh3", kmv_rse),
        _row(
            "datasketches update_theta_sketch",
            Kind.PEER,
            _theta,
            "lg_k = log2(k) (KMV with a theta); a Python loop of update()",
            kmv_rse,
        ),
    )
    return Experiment(
        name="sketches-kmv",
        chapter=11,
        title="K-minimum values: the book's numbers, accuracy and add throughput",
        params=(
            Param("n", full=1_000_000, quick=30_000, help="distinct items str(i)", minimum=1),
            Param("k", full=65_536, quick=4_096, help="minimum values kept", minimum=16),
        ),
        implementations=rows,
        validate=_estimate_validate,
        metrics=_estimate_metrics(),
        limit=_throughput(),
        notes=(
            "W11.3 at n = 1e6, k = 65,536: countmemaybe 996,706.4595653383 (kth smallest key "
            "141,200,390); the chapter's listing 994,342.6139402173. hpkit book/murmur3 must "
            "equal the countmemaybe version; the rest within 5/sqrt(k - 2) of n.",
        ),
    )


def _loglog_experiment() -> Experiment:
    def loglog_rse(params: Params) -> dict[str, Any]:
        return {"tolerance": _rse_tolerance(1.30 / math.sqrt(1 << _int(params, "p")))}

    def rules(structure: str) -> Callable[[Params], dict[str, Any]]:
        return lambda params: {
            "known": _known(params, structure, _int(params, "p")),
            "definition": True,
        }

    def exact_rules(params: Params) -> dict[str, Any]:
        return {"exact_oracle": True, "known": _known(params, "loglog", _int(params, "p"))}

    rows = (
        _row(
            "book LogLog (pure Python, mmh3)",
            Kind.REFERENCE,
            _book_counter(lambda p: _book().LogLog(_int(p, "p"))),
            "the chapter's listing: HLL alpha (+83% at 1e6)",
            rules("loglog"),
        ),
        _row(
            "book SuperLogLog (pure Python)",
            Kind.REFERENCE,
            _book_counter(lambda p: _book().SuperLogLog(_int(p, "p"))),
            "smallest 70% of the registers",
            rules("superloglog"),
        ),
        _row(
            "hpkit LogLog book, murmur3",
            Kind.HPKIT,
            _hpkit_counter("LogLog", "p", **MURMUR),
            "variant='book', hash='murmur3'",
            exact_rules,
        ),
        _row(
            "hpkit LogLog default",
            Kind.HPKIT,
            _hpkit_counter("LogLog", "p"),
            "xxh3, Durand-Flajolet",
            loglog_rse,
        ),
    )
    return Experiment(
        name="sketches-loglog",
        chapter=11,
        title="LogLog and SuperLogLog: the chapter's listings and their defects",
        params=(
            Param("n", full=1_000_000, quick=30_000, help="distinct items str(i)", minimum=1),
            Param("p", full=16, quick=16, help="log2 of the registers", minimum=4),
        ),
        implementations=rows,
        validate=_estimate_validate,
        metrics=_estimate_metrics(),
        limit=_throughput(),
        notes=(
            "W11.3 at n = 1e6, p = 16: LogLog 1,834,690.42 (+83%: the HLL alpha instead of "
            "LogLog's 0.39701, which gives 1,009,846.72), SuperLogLog 664,297.23. The book "
            "rows are biased by construction and checked only against those numbers; hpkit's "
            "book variant must equal the book LogLog exactly, its default variant be within "
            "5 x 1.30/sqrt(2**p) of n.",
        ),
    )


# --- Bloom filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """A Bloom filter's answers: false negatives among the added keys, false positives
    among ``tests`` keys never added, and the filter's own figures."""

    false_negatives: int
    false_positives: int
    tests: int
    target: float
    nbytes: int | None = None
    estimate: float | None = None
    num_bits: int | None = None
    num_hashes: int | None = None
    filters: int | None = None
    skipped: int | None = None
    exact_oracle: bool = False
    known_params: tuple[int, int] | None = None
    known_scaling: tuple[float, int, int] | None = None
    #: allowed FP rate, as a multiple of the target (plus 5 sigma); None: not bounded
    fp_bound: float | None = 2.0

    @property
    def fp_rate(self) -> float:
        return self.false_positives / self.tests if self.tests else math.nan


def _membership_validate(params: Params, got: Membership, oracle: Membership | None) -> Check:
    problems, said = [], []
    if got.false_negatives:
        problems.append(f"{got.false_negatives:,} added keys reported absent")
    if got.known_params is not None:
        if (got.num_bits, got.num_hashes) != got.known_params:
            problems.append(
                f"(bits, hashes) = {(got.num_bits, got.num_hashes)}, not {got.known_params}"
            )
        else:
            said.append(f"{got.num_bits:,} bits, {got.num_hashes} hashes = WORKLOADS.md")
    if got.known_scaling is not None:
        # add_many may not report the skipped count: compare what the row reports
        pairs = zip(("estimate", "filters", "skipped"), got.known_scaling, strict=True)
        wrong = [
            f"{name} {getattr(got, name)!r}, WORKLOADS.md {value!r}"
            for name, value in pairs
            if getattr(got, name) is not None and getattr(got, name) != value
        ]
        if wrong:
            problems.append("; ".join(wrong))
        else:
            said.append(f"{got.estimate!r}, {got.filters} filters = WORKLOADS.md")
    if got.exact_oracle:
        fields = ("false_positives", "estimate", "num_bits", "num_hashes", "filters", "skipped")
        if oracle is None:
            problems.append("no book version to compare with")
        else:
            differ = [
                f for f in fields
                if getattr(got, f) is not None and getattr(oracle, f) is not None
                and getattr(got, f) != getattr(oracle, f)
            ]  # fmt: skip
            if differ:
                problems.append(f"differs from the book version in {', '.join(differ)}")
            elif got is not oracle:
                said.append("identical answers to the book version")
    sigma = math.sqrt(got.target / got.tests) if got.tests else 0.0
    bound = math.inf if got.fp_bound is None else got.fp_bound * got.target + SIGMAS * sigma
    if got.fp_bound is None:
        said.append(f"no false negatives, FP rate {got.fp_rate:.3%} (the book's; not bounded)")
    elif got.fp_rate > bound:
        problems.append(f"false-positive rate {got.fp_rate:.3%} above {bound:.3%}")
    else:
        said.append(f"no false negatives, FP rate {got.fp_rate:.3%} (target {got.target:.2%})")
    if problems:
        return Check(False, "; ".join(problems))
    return Check(True, ", ".join(said))


MEMBERSHIP_METRICS = (
    Metric("FP rate", lambda p, m, t: 100 * m.fp_rate, "{:.3f}%"),
    Metric("FP/target", lambda p, m, t: m.fp_rate / m.target, "{:.2f}"),
    Metric("KiB", lambda p, m, t: None if m.nbytes is None else m.nbytes / 1024, "{:,.1f}"),
)


def _misses(items: Items, count: int) -> Items:
    """Keys never added: the next ``count`` values after the added ones."""
    return _items(items.kind, len(items.python), count)


BloomRun = Callable[[Items, Items], Membership]


def _bloom_row(
    name: str, kind: Kind, make: Callable[[Params], BloomRun], note: str
) -> Implementation:
    def setup(params: Params) -> Workload:
        run = make(params)
        items = _case_items(params)
        misses = _misses(items, _int(params, "misses"))
        return lambda: run(items, misses)

    return Implementation(name, kind, setup, note)


def _book_bloom(params: Params) -> BloomRun:
    book = _book()
    capacity, p = _int(params, "n"), _float(params, "error_rate")

    def run(items: Items, misses: Items) -> Membership:
        bloom = book.BloomFilter(capacity, p)
        for item in items.book:
            bloom.add(item)
        negatives = sum(1 for item in items.book if item not in bloom)
        positives = sum(1 for item in misses.book if item in bloom)
        return Membership(
            negatives, positives, len(misses.book), p, len(bloom.bits) // 8,
            bloom.estimate(), bloom.num_bits, bloom.num_hashes,
            known_params=KNOWN_BLOOM_PARAMS.get((capacity, p)),
        )  # fmt: skip

    return run


def _hpkit_bloom(**options: str) -> Callable[[Params], BloomRun]:
    def make(params: Params) -> BloomRun:
        cls = _hpkit("BloomFilter")
        capacity, p = _int(params, "n"), _float(params, "error_rate")
        book = bool(options)

        def run(items: Items, misses: Items) -> Membership:
            bloom = cls(capacity, p, **options)
            bloom.add_many(items.hpkit)
            negatives = int(np.count_nonzero(~np.asarray(bloom.contains_many(items.hpkit))))
            positives = int(np.count_nonzero(bloom.contains_many(misses.hpkit)))
            return Membership(
                negatives, positives, len(misses.python), p, _nbytes(bloom),
                bloom.estimate() if book else None, bloom.num_bits, bloom.num_hashes,
                exact_oracle=book,
                known_params=KNOWN_BLOOM_PARAMS.get((capacity, p)) if book else None,
            )  # fmt: skip

        return run

    return make


def _rbloom(params: Params) -> BloomRun:
    rbloom = require("rbloom")
    capacity, p = _int(params, "n"), _float(params, "error_rate")

    def run(items: Items, misses: Items) -> Membership:
        bloom = rbloom.Bloom(capacity, p)
        bloom.update(items.python)
        negatives = sum(1 for item in items.python if item not in bloom)
        positives = sum(1 for item in misses.python if item in bloom)
        return Membership(negatives, positives, len(misses.python), p, bloom.size_in_bits // 8)

    return run


def _pybloom(params: Params) -> BloomRun:
    pybloom = require("pybloom_live", install="pybloom-live")
    capacity, p = _int(params, "n"), _float(params, "error_rate")

    def run(items: Items, misses: Items) -> Membership:
        bloom = pybloom.BloomFilter(capacity, p)
        add = bloom.add
        for item in items.python:
            add(item)
        negatives = sum(1 for item in items.python if item not in bloom)
        positives = sum(1 for item in misses.python if item in bloom)
        return Membership(
            negatives, positives, len(misses.python), p, bloom.num_bits // 8,
            num_bits=bloom.num_bits, num_hashes=bloom.num_slices,
        )  # fmt: skip

    return run


def _membership_work(params: Params, oracle: object) -> float:
    return (2 * _int(params, "n") + _int(params, "misses")) / 1e6


def _bloom_experiment() -> Experiment:
    rows = (
        _bloom_row("book Bloom filter (pure Python, mmh3)", Kind.REFERENCE, _book_bloom,
                   "the chapter's listing, hpkit.reference.sketch"),
        _bloom_row("hpkit BloomFilter book, murmur3", Kind.HPKIT,
                   _hpkit_bloom(**MURMUR), "add_many, contains_many"),
        _bloom_row("hpkit BloomFilter default", Kind.HPKIT, _hpkit_bloom(),
                   "xxh3; add_many, contains_many"),
        _bloom_row("rbloom Bloom", Kind.PEER, _rbloom, "update(list), `x in b` per query"),
        _bloom_row("pybloom-live BloomFilter", Kind.PEER, _pybloom, "add and `in` per item"),
    )  # fmt: skip
    return Experiment(
        name="sketches-bloom",
        chapter=11,
        title="Bloom filters filled to capacity: false positives against the target",
        params=(
            Param("case", full="all", quick="all", help="str, int64 or all"),
            Param("n", full=1_048_576, quick=20_000, help="capacity = keys added", minimum=1),
            Param("error_rate", full=0.005, quick=0.005, help="target false-positive rate"),
            Param("misses", full=1_000_000, quick=20_000, help="never-added keys", minimum=1),
        ),
        cases=(Case("str", {}, {}), Case("int64", {}, {})),
        implementations=rows,
        validate=_membership_validate,
        metrics=MEMBERSHIP_METRICS,
        limit=LimitModel(
            label="",
            rate_unit="M ops/s",
            work=_membership_work,
            peak=None,
            explanation="n adds, n queries of added keys and `misses` queries per second",
        ),
        notes=(
            "Each row adds the n keys 0..n-1 (str or int64), queries them all (a false "
            "negative fails the row) and queries `misses` keys never added: the FP rate. "
            "A row fails above 2 x target + 5 sigma.",
            "W11.3 sizing: capacity 1,048,576 at p = 0.005 -> 11,563,438 bits, 8 hashes; "
            "hpkit book/murmur3 must match the book version's bits, hashes, FP count and "
            "count estimate exactly.",
        ),
    )


def _scaling_row(
    name: str, kind: Kind, make: Callable[[Params], BloomRun], note: str
) -> Implementation:
    return _bloom_row(name, kind, make, note)


def _scaling_known(params: Params) -> tuple[float, int, int] | None:
    key = (_int(params, "n"), _int(params, "capacity"), _float(params, "error_rate"))
    return KNOWN_SCALING.get(key) if params.get("case") == "book" else None


def _book_scaling(params: Params) -> BloomRun:
    book = _book()
    capacity, p = _int(params, "capacity"), _float(params, "error_rate")
    known = _scaling_known(params)

    def run(items: Items, misses: Items) -> Membership:
        scaling = book.ScalingBloomFilter(capacity, p)
        scaling.add_many(items.book)
        negatives = sum(1 for item in items.book if item not in scaling)
        positives = sum(1 for item in misses.book if item in scaling)
        return Membership(
            negatives, positives, len(misses.book), p,
            sum(len(f.bits) // 8 for f in scaling.filters), scaling.estimate(),
            filters=len(scaling.filters), skipped=scaling.skipped, known_scaling=known,
            fp_bound=None,
        )  # fmt: skip

    return run


def _hpkit_scaling(**options: str) -> Callable[[Params], BloomRun]:
    def make(params: Params) -> BloomRun:
        cls = _hpkit("ScalingBloomFilter")
        capacity, p = _int(params, "capacity"), _float(params, "error_rate")
        book = bool(options)
        known = _scaling_known(params) if book else None

        def run(items: Items, misses: Items) -> Membership:
            scaling = cls(capacity, p, **options)
            added = scaling.add_many(items.hpkit)
            skipped = _skipped(added)
            negatives = int(np.count_nonzero(~np.asarray(scaling.contains_many(items.hpkit))))
            positives = int(np.count_nonzero(scaling.contains_many(misses.hpkit)))
            return Membership(
                negatives, positives, len(misses.python), p, _nbytes(scaling),
                scaling.estimate(), filters=scaling.num_filters, skipped=skipped,
                exact_oracle=book, known_scaling=known,
                fp_bound=None if book else 1.0,
            )  # fmt: skip

        return run

    return make


def _skipped(added: object) -> int | None:
    """What ``add_many`` says about items already (maybe falsely) present, if anything."""
    if isinstance(added, int | np.integer):
        return int(added)
    if isinstance(added, np.ndarray) and added.dtype == np.bool_:
        return int(np.count_nonzero(added))
    return None


def _pybloom_scaling(params: Params) -> BloomRun:
    pybloom = require("pybloom_live", install="pybloom-live")
    capacity, p = _int(params, "capacity"), _float(params, "error_rate")

    def run(items: Items, misses: Items) -> Membership:
        scaling = pybloom.ScalableBloomFilter(initial_capacity=capacity, error_rate=p)
        add = scaling.add
        skipped = sum(1 for item in items.python if add(item))
        negatives = sum(1 for item in items.python if item not in scaling)
        positives = sum(1 for item in misses.python if item in scaling)
        nbytes = sum(f.num_bits // 8 for f in scaling.filters)
        return Membership(
            negatives, positives, len(misses.python), p, nbytes, float(len(scaling)),
            filters=len(scaling.filters), skipped=skipped, fp_bound=10.0,
        )  # fmt: skip

    return run


SCALING_METRICS = (
    *MEMBERSHIP_METRICS,
    Metric("Estimate", lambda p, m, t: m.estimate, "{:,.1f}"),
    Metric("Filters", lambda p, m, t: m.filters, "{:.0f}"),
    Metric("Skipped", lambda p, m, t: m.skipped, "{:,.0f}"),
)


def _scaling_experiment() -> Experiment:
    rows = (
        _scaling_row("book ScalingBloomFilter (pure Python)", Kind.REFERENCE, _book_scaling,
                     "max_fill 0.8, tightening 0.5, skips keys seemingly present"),
        _scaling_row("hpkit ScalingBloomFilter book, murmur3", Kind.HPKIT,
                     _hpkit_scaling(**MURMUR), "variant='book'"),
        _scaling_row("hpkit ScalingBloomFilter default", Kind.HPKIT, _hpkit_scaling(),
                     "xxh3, default growth"),
        _scaling_row("pybloom-live ScalableBloomFilter", Kind.PEER, _pybloom_scaling,
                     "LARGE_SET_GROWTH (x4 per filter), tightening 0.9"),
    )  # fmt: skip
    return Experiment(
        name="sketches-scaling",
        chapter=11,
        title="Scaling Bloom filters: the book's count and the FP rate after growing",
        params=(
            Param("case", full="all", quick="all", help="book, grow64 or all"),
            Param("n", full=1_000_000, quick=30_000, help="keys added", minimum=1),
            Param("capacity", full=1_048_576, quick=20_000, help="initial capacity", minimum=1),
            Param("error_rate", full=0.005, quick=0.005, help="target false-positive rate"),
            Param("misses", full=1_000_000, quick=20_000, help="never-added keys", minimum=1),
        ),
        cases=(
            Case("book", {}, {}),
            Case(
                "grow64",
                {"capacity": 16_384, "n": 64 * 16_384},
                {"capacity": 500, "n": 32_000},
            ),
        ),
        implementations=rows,
        validate=_membership_validate,
        metrics=SCALING_METRICS,
        limit=LimitModel(
            label="",
            rate_unit="M ops/s",
            work=_membership_work,
            peak=None,
            explanation="n adds, n queries of added keys and `misses` queries per second",
        ),
        notes=(
            "Case book (W11.3): capacity 1,048,576, n = 1e6 -> 1,000,110.653608727 from 2 "
            "filters, 386 keys skipped as already present; hpkit's book variant must equal the "
            "book version exactly (estimate, filters, skipped, FP count).",
            "Case grow64: n = 64 x the initial capacity, so the filter grows; the FP rate is "
            "the whole structure's. hpkit's default variant promises the target (checked: "
            "within target + 5 sigma); pybloom-live's tightening 0.9 bounds it by 10 x target. "
            "The book rows are only checked against each other: the book's countdown restarts "
            "at int(fill - estimate), which can be 0, after which the filter never grows again "
            "and overfills (its FP rate climbs; not bounded).",
        ),
    )


# --- the book's accuracy table on the token stream --------------------------------------


@functools.lru_cache(maxsize=2)
def _stream(n: int) -> tuple[list[str], int]:
    require("wordfreq")
    from hpkit.reference import tokens

    stream = tokens.zipf_tokens(n)
    return stream, len(set(stream))


@functools.lru_cache(maxsize=8)
def _book_on_stream(structure: str, n: int) -> float:
    """The pure-Python book version's estimate on the stream (the book rows' oracle)."""
    book = _book()
    stream, _ = _stream(n)
    counter = {
        "hll": lambda: book.HyperLogLog(16),
        "kmv": lambda: book.KMinValues(65_536),
        "loglog": lambda: book.LogLog(16),
        "scaling": lambda: book.ScalingBloomFilter(1_048_576),
    }[structure]()
    counter.add_many(stream)
    return float(counter.estimate())


@dataclass(frozen=True)
class TokenCount:
    value: float
    truth: int
    nbytes: int | None
    expected: float | None  # exact (book rows: the pure-Python version on the same stream)
    tolerance: float | None  # relative, against truth
    known_truth: int | None = None
    morris: bool = False

    @property
    def error(self) -> float:
        return self.value / self.truth - 1.0


def _token_validate(params: Params, got: TokenCount, oracle: object) -> Check:
    if got.known_truth is not None and got.truth != got.known_truth:
        return Check(False, f"{got.truth:,} distinct tokens, WORKLOADS.md says {got.known_truth:,}")
    if got.morris:
        c = math.log2(got.value)
        if abs(c - math.log2(got.truth)) > 4:
            return Check(False, f"counter {c:.0f} is implausible for {got.truth:,} adds")
        return Check(True, f"2**{c:.0f} for {got.truth:,} tokens (counter within log2(n) ± 4)")
    if got.expected is not None:
        if got.value != got.expected:
            return Check(False, f"{got.value!r}, the book version gives {got.expected!r}")
        return Check(True, f"{got.value!r} = the book version on the same stream")
    if got.tolerance is not None:
        if abs(got.error) > got.tolerance:
            return Check(False, f"error {got.error:+.3%} beyond ±{got.tolerance:.2%}")
        return Check(True, f"error {got.error:+.3%} within ±{got.tolerance:.2%}")
    return Check(True, f"{got.value:,.0f} distinct (exact)")


def _token_row(
    name: str,
    kind: Kind,
    make: Callable[[], Callable[[list[str]], tuple[float, int | None]]],
    note: str,
    *,
    book: str | None = None,
    rse: float | None = None,
    morris: bool = False,
    exact: bool = False,
) -> Implementation:
    def setup(params: Params) -> Workload:
        run = make()
        n = _int(params, "tokens")
        stream, distinct = _stream(n)
        truth = n if morris else distinct
        expected = _book_on_stream(book, n) if book else None
        tolerance = None if rse is None else SIGMAS * rse
        known = KNOWN_DISTINCT.get(n) if exact else None

        def workload() -> TokenCount:
            value, nbytes = run(stream)
            return TokenCount(float(value), truth, nbytes, expected, tolerance, known, morris)

        return workload

    return Implementation(name, kind, setup, note)


def _set_count() -> Callable[[list[str]], tuple[float, int | None]]:
    return lambda stream: (float(len(set(stream))), None)


def _hpkit_on_stream(
    name: str, size: int, *, book: bool = False, morris: bool = False
) -> Callable[[], Callable[[list[str]], tuple[float, int | None]]]:
    """An hpkit counter over the stream; ``book``: ``variant="book"`` (with murmur3, except
    the Morris counter, which hashes nothing)."""
    options = ({"variant": "book"} if morris else MURMUR) if book else {}

    def make() -> Callable[[list[str]], tuple[float, int | None]]:
        cls = _hpkit(name)

        def run(stream: list[str]) -> tuple[float, int | None]:
            counter = cls(seed=0, **options) if morris else cls(size, **options)
            counter.add_many(stream)
            return counter.estimate(), _nbytes(counter)

        return run

    return make


def _peer_on_stream(
    runner: Callable[[Params], Runner], params: dict[str, Any]
) -> Callable[[], Callable[[list[str]], tuple[float, int | None]]]:
    def make() -> Callable[[list[str]], tuple[float, int | None]]:
        run = runner(params)
        return lambda stream: run(Items("str", stream, None, stream))

    return make


def _tokens_experiment() -> Experiment:
    hll_rse = 1.04 / 256
    kmv_rse = 1 / math.sqrt(65_534)
    hll_params = {"p": 16}
    rows = (
        _token_row("Python set (exact)", Kind.REFERENCE, _set_count, "len(set(stream))",
                   exact=True),
        _token_row("hpkit HyperLogLog book, murmur3", Kind.HPKIT,
                   _hpkit_on_stream("HyperLogLog", 16, book=True), "p = 16", book="hll"),
        _token_row("hpkit HyperLogLog default", Kind.HPKIT,
                   _hpkit_on_stream("HyperLogLog", 16), "p = 16", rse=hll_rse),
        _token_row("hpkit KMV book, murmur3", Kind.HPKIT,
                   _hpkit_on_stream("KMV", 65_536, book=True), "k = 65,536", book="kmv"),
        _token_row("hpkit KMV default", Kind.HPKIT, _hpkit_on_stream("KMV", 65_536),
                   "k = 65,536", rse=kmv_rse),
        _token_row("hpkit ScalingBloomFilter book, murmur3", Kind.HPKIT,
                   _hpkit_on_stream("ScalingBloomFilter", 1_048_576, book=True),
                   "capacity 2**20, p = 0.005: count estimate", book="scaling"),
        _token_row("hpkit ScalingBloomFilter default", Kind.HPKIT,
                   _hpkit_on_stream("ScalingBloomFilter", 1_048_576),
                   "capacity 2**20: count estimate", rse=0.01),
        _token_row("hpkit LogLog book, murmur3", Kind.HPKIT,
                   _hpkit_on_stream("LogLog", 16, book=True), "p = 16 (HLL alpha)",
                   book="loglog"),
        _token_row("hpkit LogLog default", Kind.HPKIT, _hpkit_on_stream("LogLog", 16),
                   "p = 16", rse=1.30 / 256),
        _token_row("hpkit MorrisCounter book", Kind.HPKIT,
                   _hpkit_on_stream("MorrisCounter", 0, morris=True, book=True),
                   "counts all tokens; estimate 2**c", morris=True),
        _token_row("hpkit MorrisCounter default", Kind.HPKIT,
                   _hpkit_on_stream("MorrisCounter", 0, morris=True),
                   "counts all tokens", morris=True),
        _token_row("datasketches hll_sketch HLL_4", Kind.PEER,
                   _peer_on_stream(_datasketches_hll(), hll_params), "lg_k = 16", rse=hll_rse),
        _token_row("datasketches update_theta_sketch", Kind.PEER,
                   _peer_on_stream(_theta, {"k": 65_536}), "lg_k = 16", rse=kmv_rse),
        _token_row("datasketch HyperLogLog", Kind.PEER,
                   _peer_on_stream(_datasketch_hll, hll_params), "p = 16", rse=hll_rse),
        _token_row("hyperloglog HyperLogLog", Kind.PEER,
                   _peer_on_stream(_hyperloglog, hll_params), "m = 2**16", rse=hll_rse),
    )  # fmt: skip
    return Experiment(
        name="sketches-tokens",
        chapter=11,
        title="The book's accuracy table, on the seeded Zipf token stream",
        params=(Param("tokens", full=1_000_000, quick=50_000, help="stream tokens", minimum=1),),
        implementations=rows,
        validate=_token_validate,
        metrics=(
            Metric("Estimate", lambda p, c, t: c.value, "{:,.1f}"),
            Metric("Error", lambda p, c, t: 100 * c.error, "{:+.3f}%"),
            Metric("KiB", lambda p, c, t: None if c.nbytes is None else c.nbytes / 1024, "{:,.1f}"),
        ),  # fmt: skip
        limit=LimitModel(
            label="",
            rate_unit="M tokens/s",
            work=lambda params, oracle: _int(params, "tokens") / 1e6,
            peak=None,
            explanation="stream tokens added per second",
        ),
        notes=(
            "W11.2's stream (wordfreq vocabulary, Zipf weights 1/r, SplitMix64 seed 11): "
            "149,612 distinct in the first 1e6 tokens. Errors are against that true count "
            "(the Morris counter's against the number of tokens).",
            f"The book's table on 8.5M Wikipedia tokens (book-reported): {BOOK_TABLE}.",
            "Book rows must equal the pure-Python book version on the same stream exactly; "
            "default rows and peers must be within 5 standard errors (ScalingBloom: 5%).",
        ),
    )


# --- HyperLogLog accuracy over seeds, at equal memory ------------------------------------


@dataclass(frozen=True)
class Spread:
    """Estimates of ``truth`` distinct keys over several seeds."""

    estimates: tuple[float, ...]
    truth: int
    nbytes: int | None
    registers: int

    @property
    def errors(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.estimates) / self.truth - 1.0

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean(self.errors**2)))

    @property
    def bias(self) -> float:
        return float(np.mean(self.errors))

    @property
    def theory(self) -> float:
        return 1.04 / math.sqrt(self.registers)


def _keys(seed: int, n: int) -> range:
    """Seed ``s``'s distinct keys: ``s * 2**40 + i``, disjoint across seeds."""
    return range(seed << 40, (seed << 40) + n)


def _hpkit_hll_bytes(p: int) -> int:
    cls = _hpkit("HyperLogLog")
    sketch = cls(p)
    sketch.add_many(np.arange(1 << (p + 2), dtype=np.int64))  # dense registers
    size = _nbytes(sketch)
    if size is None:
        raise Skip("hpkit HyperLogLog has no nbytes to match")
    return size


def _datasketches_lg_k(budget: int, tgt: Any, ds: Any) -> int:
    """The largest lg_k whose dense serialization fits in ``budget`` bytes."""
    fitting = [
        lg
        for lg in range(4, 22)
        if ds.hll_sketch.get_max_updatable_serialization_bytes(lg, tgt) <= budget
    ]
    if not fitting:
        raise Skip(f"no datasketches configuration fits in {budget} bytes")
    return max(fitting)


def _rmse_hpkit(params: Params) -> Workload:
    cls = _hpkit("HyperLogLog")
    p, n, seeds = _int(params, "p"), _int(params, "n"), _int(params, "seeds")

    def run() -> Spread:
        estimates, size = [], None
        for seed in range(seeds):
            keys = _keys(seed, n)
            sketch = cls(p)
            sketch.add_many(np.arange(keys.start, keys.stop, dtype=np.int64))
            estimates.append(float(sketch.estimate()))
            size = _nbytes(sketch)
        return Spread(tuple(estimates), n, size, 1 << p)

    return run


def _rmse_datasketches(tgt_name: str, same_memory: bool) -> Callable[[Params], Workload]:
    def setup(params: Params) -> Workload:
        ds = require("datasketches")
        tgt = getattr(ds.tgt_hll_type, tgt_name)
        p, n, seeds = _int(params, "p"), _int(params, "n"), _int(params, "seeds")
        lg_k = _datasketches_lg_k(_hpkit_hll_bytes(p), tgt, ds) if same_memory else p

        def run() -> Spread:
            estimates, size = [], None
            for seed in range(seeds):
                sketch = ds.hll_sketch(lg_k, tgt)
                update = sketch.update
                for key in _keys(seed, n):
                    update(key)
                estimates.append(sketch.get_estimate())
                size = ds.hll_sketch.get_max_updatable_serialization_bytes(lg_k, tgt)
            return Spread(tuple(estimates), n, size, 1 << lg_k)

        return run

    return setup


def _spread_validate(params: Params, got: Spread, oracle: object) -> Check:
    allowed = 2.0 * got.theory + 3.0 * got.theory / math.sqrt(2 * len(got.estimates))
    if got.rmse > allowed:
        return Check(False, f"relative RMSE {got.rmse:.3%} above {allowed:.3%}")
    return Check(
        True,
        f"relative RMSE {got.rmse:.3%} over {len(got.estimates)} seeds (theory {got.theory:.3%})",
    )


def _rmse_experiment() -> Experiment:
    rows = (
        Implementation("hpkit HyperLogLog default", Kind.HPKIT, _rmse_hpkit,
                       "add_many(int64 array) per seed"),
        Implementation("datasketches HLL_4, same memory", Kind.PEER,
                       _rmse_datasketches("HLL_4", True),
                       "largest lg_k whose serialization fits hpkit's nbytes"),
        Implementation("datasketches HLL_8, same memory", Kind.PEER,
                       _rmse_datasketches("HLL_8", True), "8-bit registers"),
        Implementation("datasketches HLL_4, same registers", Kind.PEER,
                       _rmse_datasketches("HLL_4", False), "lg_k = p"),
    )  # fmt: skip
    return Experiment(
        name="sketches-hll-rmse",
        chapter=11,
        title="HyperLogLog accuracy over many seeds at equal memory",
        params=(
            Param("case", full="all", quick="all", help="1e3, 1e5, 1e6 or all"),
            Param("p", full=14, quick=14, help="hpkit's log2 registers", minimum=4),
            Param("n", full=1_000, quick=1_000, help="distinct keys per seed", minimum=1),
            Param("seeds", full=100, quick=6, help="independent key sets", minimum=1),
        ),
        cases=(
            Case("1e3", {"n": 1_000}, {"n": 1_000}),
            Case("1e5", {"n": 100_000}, {"n": 10_000}),
            Case("1e6", {"n": 1_000_000}, {"n": 30_000}),
        ),
        implementations=rows,
        validate=_spread_validate,
        metrics=(
            Metric("Rel. RMSE", lambda p, s, t: 100 * s.rmse, "{:.3f}%"),
            Metric("Bias", lambda p, s, t: 100 * s.bias, "{:+.3f}%"),
            Metric("1.04/√m", lambda p, s, t: 100 * s.theory, "{:.3f}%"),
            Metric("Bytes", lambda p, s, t: s.nbytes, "{:,.0f}"),
        ),
        limit=LimitModel(
            label="",
            rate_unit="M items/s",
            work=lambda params, oracle: _int(params, "n") * _int(params, "seeds") / 1e6,
            peak=None,
            explanation="keys added over all seeds per second",
        ),
        notes=(
            "Seed s adds the keys s * 2**40 + i, i < n (hpkit: an int64 array per seed; "
            "datasketches: a Python loop of update over the same ints). Rel. RMSE = "
            "sqrt(mean((estimate/n - 1)**2)) over the seeds. Same memory: the largest "
            "datasketches lg_k whose max updatable serialization is at most hpkit's nbytes.",
            "A row fails above 2 x 1.04/sqrt(m) plus the sampling spread of the RMSE.",
        ),
    )


GROUP = "sketches"
EXPERIMENTS = (
    _hll_experiment(),
    _kmv_experiment(),
    _loglog_experiment(),
    _bloom_experiment(),
    _scaling_experiment(),
    _tokens_experiment(),
    _rmse_experiment(),
)
