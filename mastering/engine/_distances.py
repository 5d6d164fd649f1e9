"""dedupe's pair features, computed a column at a time instead of a pair at a time.

dedupe's DataModel.distances loops over pairs and calls every comparator once per pair and attribute.
Here each attribute's values are compared as a column: the common comparators get a bulk path that
computes the same numbers (edit distance once per distinct pair of values, TF-IDF cosine as a sparse
row-wise product, exact match as an equality), and any other comparator is still called pair by pair,
with dedupe's rules for missing values. The derived columns (interactions, "is present" indicators) come
from dedupe's own code, so the feature matrix has dedupe's layout and float32 values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy
import numpy.typing
import scipy.sparse
from affinegap import normalizedAffineGapDistance
from dedupe.variables.exact import ExactType
from simplecosine.cosine import CosineSimilarity

Values = Sequence[Any]
# Up to this many pairs, TF-IDF cosine is computed pair by pair, as dedupe does (same numbers).
FEW_PAIRS = 32
Column = numpy.typing.NDArray[numpy.float32]


def distances(data_model: Any, left: Sequence[dict], right: Sequence[dict]) -> numpy.typing.NDArray[numpy.float32]:
    """The feature matrix of the pairs (left[i], right[i]), equal to `data_model.distances` of them."""
    out = numpy.empty((len(left), len(data_model)), "f4")
    for field, compare, start, stop in data_model._field_comparators:
        a = [record[field] for record in left]
        b = [record[field] for record in right]
        out[:, start:stop] = _compare_column(compare, a, b, stop - start)
    return data_model._add_derived_distances(out)


def _compare_column(compare: Callable, a: Values, b: Values, width: int) -> numpy.typing.NDArray[numpy.float32]:
    if width == 1 and not hasattr(compare, "missing"):
        if compare is normalizedAffineGapDistance:
            return _by_distinct_pair(compare, a, b)[:, None]
        if isinstance(compare, CosineSimilarity):
            if len(a) <= FEW_PAIRS:  # a streamed record's few candidates: building sparse matrices costs more
                column = _pair_by_pair(compare, a, b, 1)
                compare.vectors.clear()  # dedupe memoises every value it sees; a long-lived matcher would keep them all
                return column
            return _cosine(compare, a, b)[:, None]
        if compare is ExactType.comparator:
            return _present_or_nan(a, b, [1.0 if x == y else 0.0 for x, y in zip(a, b)])[:, None]
    return _pair_by_pair(compare, a, b, width)


def _present_or_nan(a: Values, b: Values, values: list[float]) -> Column:
    column = numpy.asarray(values, dtype="f4")
    missing = numpy.fromiter((x is None or y is None for x, y in zip(a, b)), dtype=bool, count=len(a))
    column[missing] = numpy.nan
    return column


def _by_distinct_pair(compare: Callable, a: Values, b: Values) -> Column:
    """Call the comparator once per distinct (a, b) of present values; NaN where either is missing."""
    seen: dict[tuple[Any, Any], float] = {}
    column = numpy.empty(len(a), dtype="f4")
    for i, (x, y) in enumerate(zip(a, b)):
        if x is None or y is None:
            column[i] = numpy.nan
            continue
        key = (x, y)
        value = seen.get(key)
        if value is None:
            value = seen[key] = compare(x, y)
        column[i] = value
    return column


def _cosine(compare: CosineSimilarity, a: Values, b: Values) -> Column:
    """TF-IDF cosine of each pair, as dedupe's comparator weighs words, over sparse vectors of the distinct values."""
    index: dict[Any, int] = {}
    rows_a = numpy.fromiter((_position(index, compare, x) for x in a), dtype=numpy.int64, count=len(a))
    rows_b = numpy.fromiter((_position(index, compare, y) for y in b), dtype=numpy.int64, count=len(b))
    vocabulary: dict[Any, int] = {}
    indptr, indices, data = [0], [], []
    norms = numpy.zeros(len(index) + 1)  # the last row stands for a missing value
    for value, row in index.items():
        vector, norm = compare.vectorize(value)
        for word, weight in vector.items():
            indices.append(vocabulary.setdefault(word, len(vocabulary)))
            data.append(weight)
        indptr.append(len(indices))
        norms[row] = norm
    indptr.append(len(indices))
    compare.vectors.clear()  # dedupe memoises every value it sees; a long-lived matcher would keep them all
    matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(index) + 1, max(len(vocabulary), 1)))
    numerator = numpy.asarray(matrix[rows_a].multiply(matrix[rows_b]).sum(axis=1)).ravel()
    denominator = norms[rows_a] * norms[rows_b]
    with numpy.errstate(invalid="ignore", divide="ignore"):
        column = numpy.where(denominator > 0, numerator / numpy.where(denominator > 0, denominator, 1.0), numpy.nan)
    return column.astype("f4")


def _position(index: dict[Any, int], compare: CosineSimilarity, value: Any) -> int:
    if value is None:
        return -1  # the missing row, whose norm is 0
    key = compare._hashable(value)
    position = index.get(key)
    if position is None:
        position = index[key] = len(index)
    return position


def _pair_by_pair(compare: Callable, a: Values, b: Values, width: int) -> numpy.typing.NDArray[numpy.float32]:
    """dedupe's own loop for one attribute: compare present pairs (or all, for comparators that take missing values)."""
    out = numpy.empty((len(a), width), dtype="f4")
    takes_missing = hasattr(compare, "missing")
    for i, (x, y) in enumerate(zip(a, b)):
        if (x is not None and y is not None) or takes_missing:
            out[i] = compare(x, y)
        else:
            out[i] = math.nan
    return out
