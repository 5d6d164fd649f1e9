"""Pairs ranked by plain text similarity: what to ask first, before any label or model exists.

Every compared attribute of a record is joined into one text and weighed by TF-IDF over character
n-grams (scikit-learn), and each record's nearest neighbours by cosine are found. The most similar
pairs are mostly duplicates on any data, so a curator's first answers include matches even where
duplicates are rare (a random pair of a person register is a match once in thousands).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy
import sklearn.feature_extraction.text
import sklearn.neighbors

from mastering.engine.records import Pair, PreparedRecord, RecordId, ordered

NEIGHBOURS = 5


def record_text(record: PreparedRecord, fields: Sequence[str]) -> str:
    """The values of a prepared record joined into one text (sets and tuples as their elements)."""
    parts = []
    for field in fields:
        value = record.get(field)
        if value is None:
            continue
        parts.append(" ".join(map(str, value)) if isinstance(value, (tuple, list, frozenset, set)) else str(value))
    return " ".join(parts)


def similar_pairs(
    records: Mapping[RecordId, PreparedRecord],
    fields: Sequence[str],
    *,
    group_of: Mapping[RecordId, str] | None = None,
    neighbours: int = NEIGHBOURS,
) -> list[tuple[Pair, float]]:
    """Each record's nearest neighbours (other sources only, with `group_of`), most similar pairs first."""
    ids = sorted(records)
    texts = [record_text(records[rid], fields) for rid in ids]
    if len(ids) < 2 or not any(texts):
        return []
    vectorizer = sklearn.feature_extraction.text.TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but empty texts
        return []
    # Link tasks want partners from the other sources: more neighbours are fetched so enough remain.
    k = min(len(ids), neighbours + 1 if group_of is None else 4 * neighbours + 1)
    index = sklearn.neighbors.NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(matrix)
    distances, positions = index.kneighbors(matrix)
    best: dict[Pair, float] = {}
    for row, (found, gaps) in enumerate(zip(positions, distances)):
        kept = 0
        for column, gap in zip(found.tolist(), gaps.tolist()):
            a, b = ids[row], ids[column]
            if a == b or (group_of is not None and group_of.get(a) == group_of.get(b)):
                continue
            pair = ordered(a, b)
            best[pair] = max(best.get(pair, 0.0), 1.0 - gap)
            kept += 1
            if kept >= neighbours:
                break
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))



# Runs compare each record with this many nearest neighbours by text, on top of the blocking rules,
# for data sets of at most MAX_NEIGHBOUR_RECORDS (the search compares every record with every other).
RUN_NEIGHBOURS = 5
MAX_NEIGHBOUR_RECORDS = 60_000
_ROWS_PER_STEP = 512


def neighbour_pairs(
    texts: Mapping[RecordId, str],
    *,
    group_of: Mapping[RecordId, str] | None = None,
    neighbours: int = RUN_NEIGHBOURS,
) -> list[Pair]:
    """Each record paired with its nearest neighbours by TF-IDF cosine on character n-grams (other sources only,
    with `group_of`): product names that share a model number but few words still get compared."""
    ids = [rid for rid in sorted(texts) if texts[rid]]
    if len(ids) < 2 or len(ids) > MAX_NEIGHBOUR_RECORDS:
        return []
    vectorizer = sklearn.feature_extraction.text.TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=numpy.float32)
    matrix = vectorizer.fit_transform([texts[rid] for rid in ids]).tocsr()
    transposed = matrix.T.tocsc()
    groups = None
    if group_of is not None:
        names = {name: i for i, name in enumerate(sorted({group_of[rid] for rid in ids}))}
        groups = numpy.array([names[group_of[rid]] for rid in ids])
    k = min(neighbours, len(ids) - 1)
    found: set[Pair] = set()
    for start in range(0, len(ids), _ROWS_PER_STEP):
        stop = min(start + _ROWS_PER_STEP, len(ids))
        similarity = (matrix[start:stop] @ transposed).toarray()
        similarity[numpy.arange(stop - start), numpy.arange(start, stop)] = -1.0  # never oneself
        if groups is not None:
            similarity[groups[start:stop, None] == groups[None, :]] = -1.0
        nearest = numpy.argpartition(-similarity, k, axis=1)[:, :k]
        for row, columns in enumerate(nearest):
            for column in columns.tolist():
                if similarity[row, column] > 0:
                    found.add(ordered(ids[start + row], ids[column]))
    return sorted(found)
