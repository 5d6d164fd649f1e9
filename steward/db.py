"""Bulk writes that stay fast at a million rows (COPY on PostgreSQL, bulk_create elsewhere), and lock waits."""

import contextlib
import io
import json
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import numpy
from django.db import connection, models
from django.db.models.expressions import RawSQL

logger = logging.getLogger(__name__)


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps with options builds one per call
_last_time: tuple[datetime | None, str] = (None, "")


def _text(value: object) -> str:
    """A value in COPY's text format (\\N is NULL; tabs, newlines and backslashes escaped)."""
    kind = type(value)
    if kind is int:  # most columns of big writes (ids, keys, counts): nothing to escape
        return str(value)
    if value is None:
        return "\\N"
    if kind is str:
        text = value
    elif kind is dict or kind is list:
        if not value:  # a run's changes carry three empty ones each: no encoder call for them
            return "[]" if kind is list else "{}"
        text = _JSON.encode(value)
    elif kind is float:
        return repr(value)  # digits, a sign, a dot, an exponent, inf or nan: nothing to escape
    elif kind is uuid.UUID:
        return str(value)  # hex digits and dashes: nothing to escape
    elif isinstance(value, bool):
        return "t" if value else "f"
    elif isinstance(value, (dict, list)):
        text = _JSON.encode(value)
    elif isinstance(value, datetime):
        global _last_time  # a write's rows mostly carry the same timestamp: format it once
        last, text = _last_time
        if value is not last:
            text = value.isoformat()
            _last_time = (value, text)
        return text  # digits, dashes, colons, a dot, a plus: nothing to escape
    else:
        text = str(value)
    if text.isprintable() and "\\" not in text:  # two scans in C, where most text (ids, JSON) has nothing to escape
        return text
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def json_text(value: object) -> object:
    """A value for a JSON column of `insert_rows`, encoded once to go in several rows (PostgreSQL: its JSON text)."""
    return _JSON.encode(value) if connection.vendor == "postgresql" else value


def among(model: type[models.Model], field: str, values: Iterable):
    """A filter: the model's `field` is one of `values` (for `queryset.filter(...)`).

    On PostgreSQL one array parameter (`= ANY(%s)`): an IN list of 20,000 parameters cost the worker seconds to
    build and the server to parse, per query. Elsewhere a plain `__in` (callers keep SQLite's lists under 999).
    The SQL names the model's table: filter a query on that table itself, not one used as a subquery.
    """
    values = list(values)
    if connection.vendor != "postgresql":
        return models.Q(**{f"{field}__in": values})
    column = model._meta.get_field(field)
    table, name = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column.column)
    array_type = f"{column.target_field.rel_db_type(connection) if column.is_relation else column.db_type(connection)}[]"
    return RawSQL(f"{table}.{name} = ANY(%s::{array_type})", [values], output_field=models.BooleanField())


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *, batch: int = 50_000) -> int:
    """Insert plain rows (values in `columns` order, using column names) into a model's table; returns the count.

    Rows of integers only go faster through `insert_integer_rows`.
    """
    if connection.vendor != "postgresql":
        return _bulk_create(model, columns, rows)
    count = 0
    # COPY is the driver's own: its errors become Django's (IntegrityError, say) only when wrapped.
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(_copy_statement(model, columns)) as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(map(_text, row)))
            buffer.write("\n")
            count += 1
            if count % batch == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _copy_statement(model: type[models.Model], columns: Sequence[str]) -> str:
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    return f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"


class BackgroundInserts:
    """Rows inserted from a thread, on the caller's connection and in its transaction, while the caller goes on.

    A write of many rows keeps the PostgreSQL server busy for seconds (parsing JSON, maintaining indexes, checking
    foreign keys) while the caller waits; from a thread, the caller can compute the next rows meanwhile, so the
    worker and the server use a core each. The caller formats the rows (COPY text), the thread only sends them:
    Python work in the thread would hold the interpreter the caller computes with. psycopg lets one connection
    run one command at a time (its lock), so a query of the caller's waits until the thread's COPY is done.

    Use as a context manager: `send` a list of (model, columns, rows), and `wait` before the caller writes what
    refers to them or reads them; leaving the block waits too (an error in the thread is raised by the wait).
    Elsewhere than PostgreSQL the rows are inserted at once by `send`.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._abort = threading.Event()

    def send(self, writes: Sequence[tuple[type[models.Model], Sequence[str], Iterable[Sequence]]]) -> None:
        self.wait()
        if connection.vendor != "postgresql":
            for model, columns, rows in writes:
                _bulk_create(model, columns, rows)
            return
        # Formatted here: the thread then holds the interpreter only to hand the text to the driver.
        texts = [(_copy_statement(model, columns), "".join("\t".join(map(_text, row)) + "\n" for row in rows))
                 for model, columns, rows in writes]
        connection.ensure_connection()
        self._thread = threading.Thread(target=self._copy, args=(connection.connection, connection.wrap_database_errors, texts),
                                        name="background-inserts", daemon=True)
        self._thread.start()

    def _copy(self, raw, django_errors, texts: list[tuple[str, str]]) -> None:
        try:
            with django_errors, raw.cursor() as cursor:  # the driver's errors as Django's (IntegrityError, say)
                for statement, text in texts:
                    # Between two COPYs the caller may have given up: after its rollback the connection is back in
                    # autocommit, where a COPY would be committed on its own.
                    if self._abort.is_set() or raw.autocommit:
                        raise RuntimeError("background inserts stopped: the caller's transaction is over")
                    if text:
                        with cursor.copy(statement) as copy:
                            copy.write(text)
        except BaseException as exc:  # raised again by wait(), in the caller's thread
            self._error = exc

    def __enter__(self) -> "BackgroundInserts":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        # Never leave the thread writing: the caller's transaction ends (commits or rolls back) after this.
        if kind is None:
            self.wait()
            return
        self._abort.set()
        while self._thread is not None and self._thread.is_alive():
            try:
                self._thread.join()
            except BaseException:  # interrupted again while waiting: still wait, the first error is the one raised
                continue
        if self._error is not None:
            logger.warning("Background inserts failed while the caller was failing too: %r", self._error)

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error


_BINARY_TYPES = {"smallint": ">i2", "integer": ">i4", "bigint": ">i8"}
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_BINARY_TRAILER = b"\xff\xff"


def insert_integer_rows(model: type[models.Model], columns: Sequence[str], rows: numpy.ndarray) -> int:
    """Insert a 2-D array of integers (one column per name in `columns`) into a model's table; returns the count.

    On PostgreSQL one binary COPY laid out by numpy: the match index writes ~90,000 rows a slice, which as text
    cost the worker a formatted line per row and the server a parse per value.
    """
    rows = numpy.asarray(rows, dtype=numpy.int64).reshape(len(rows), len(columns))
    if connection.vendor != "postgresql":
        return _bulk_create(model, columns, rows.tolist())
    fields = {field.column: field for field in model._meta.concrete_fields}
    kinds = []
    for name in columns:
        field = fields[name]
        kinds.append(_BINARY_TYPES[field.target_field.rel_db_type(connection) if field.is_relation else field.db_type(connection)])
    layout = [("fields", ">i2")]
    for n, kind in enumerate(kinds):
        layout += [(f"size{n}", ">i4"), (f"value{n}", kind)]
    packed = numpy.empty(len(rows), dtype=numpy.dtype(layout))
    packed["fields"] = len(columns)
    for n, kind in enumerate(kinds):
        limits = numpy.iinfo(numpy.dtype(kind))
        if len(rows) and (rows[:, n].min() < limits.min or rows[:, n].max() > limits.max):
            raise ValueError(f"{columns[n]} of {model._meta.db_table}: a value does not fit {kind}")
        packed[f"size{n}"] = numpy.dtype(kind).itemsize
        packed[f"value{n}"] = rows[:, n]
    with connection.wrap_database_errors, connection.cursor() as cursor, \
            cursor.copy(f"{_copy_statement(model, columns)} (FORMAT BINARY)") as copy:
        copy.write(_BINARY_HEADER + packed.tobytes() + _BINARY_TRAILER)
    return len(rows)


def _bulk_create(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    attnames = {field.column: field.attname for field in model._meta.concrete_fields}
    objects = [model(**{attnames[c]: v for c, v in zip(columns, row)}) for row in rows]
    model.objects.bulk_create(objects, batch_size=2000)
    return len(objects)


@contextlib.contextmanager
def sqlite_lock_wait(seconds: float) -> Iterator[None]:
    """On SQLite, wait at most this long for the file's write lock (instead of the configured timeout) meanwhile.

    Transactions take that lock as they begin (transaction_mode IMMEDIATE), so open the transaction inside.
    Elsewhere it does nothing: PostgreSQL waits row by row, under lock_timeout.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA busy_timeout = {max(0, round(seconds * 1000))}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(before)}")
