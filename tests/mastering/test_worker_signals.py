"""A starting Celery worker lowers its CPU priority, so on a shared machine web requests come first."""

import os

from celery.signals import worker_init

from mastering.services import liveness


class FakeWorker:
    hostname = "celery@test"


def test_a_starting_worker_raises_its_niceness_by_the_setting(monkeypatch, settings):
    raised: list[int] = []
    monkeypatch.setattr(os, "nice", raised.append)
    monkeypatch.setattr(liveness, "_worker", liveness._Worker())  # worker_init also names the worker; keep that local
    settings.STEWARD_WORKER_NICENESS = 7
    worker_init.send(sender=FakeWorker())
    assert raised == [7]


def test_niceness_zero_leaves_the_worker_as_it_is(monkeypatch, settings):
    raised: list[int] = []
    monkeypatch.setattr(os, "nice", raised.append)
    monkeypatch.setattr(liveness, "_worker", liveness._Worker())
    settings.STEWARD_WORKER_NICENESS = 0
    worker_init.send(sender=FakeWorker())
    assert raised == []
