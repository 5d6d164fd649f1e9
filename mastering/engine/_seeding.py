"""Seeded randomness for dedupe, which draws from the global `random` and numpy generators."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy


class SeededRandom:
    """A private random stream that is swapped into the global generators only while dedupe runs."""

    def __init__(self, seed: int) -> None:
        self._python = random.Random(seed)
        self._numpy = numpy.random.RandomState(seed % 2**32)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make dedupe's global draws come from this stream, then give the caller's state back."""
        # Swapping global state is not thread-safe; the engine runs one call at a time per process.
        saved_python, saved_numpy = random.getstate(), numpy.random.get_state()
        random.setstate(self._python.getstate())
        numpy.random.set_state(self._numpy.get_state())
        try:
            yield
        finally:
            self._python.setstate(random.getstate())
            self._numpy.set_state(numpy.random.get_state())
            random.setstate(saved_python)
            numpy.random.set_state(saved_numpy)

    def generator(self) -> numpy.random.Generator:
        """A numpy Generator seeded from this stream, for dedupe objects that own one."""
        return numpy.random.default_rng(self._python.getrandbits(63))


@contextmanager
def seeded(seed: int) -> Iterator[SeededRandom]:
    """Run a block with the global generators seeded from `seed`, restoring them afterwards."""
    stream = SeededRandom(seed)
    with stream.active():
        yield stream
