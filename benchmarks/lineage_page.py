"""What the lineage page of a big entity costs: an entity of 50 members with 1,000 activities about it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/steward_x python benchmarks/lineage_page.py --rounds 20

Builds its own throw-away test database next to DATABASE_URL's (test_<name>), seeds it through the services (a
source of people, a trained model, a mastering run, merges into one entity of --members records, then --activities
activities naming the entity), and requests the entity's lineage page, its API and the entity page in-process with
Django's test client. Prints one JSON line: per request, median and worst milliseconds, queries, and the load
average beside them (the machine is shared). The target (issue 15): the lineage page under 300 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def seed(members: int, activities: int):
    from django.test import TestCase

    from curation import services as curation_services
    from lineage.models import Activity
    from lineage.services import record_activity
    from mastering import services
    from mastering.models import Entity, Job
    from mastering.services import entities as entity_services
    from tests.conftest import make_user
    from tests.factories import entity_type_with_records

    people = members  # half the people get a duplicate, so there are about 1.5 records per person
    entity_type, source = entity_type_with_records(people, slug="benchperson")
    steward = make_user("bench-steward", "steward")
    rows = [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i}-dup"},
             "answer": "match"} for i in range(0, people, 2)]
    rows += [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i + 1}"},
              "answer": "distinct"} for i in range(0, people - 1, 2)]
    curation_services.import_labels(entity_type=entity_type, rows=rows, curator=steward)
    curation_services.train_match_model(entity_type=entity_type)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    live = list(Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).order_by("-size", "pk"))
    survivor, others, size = live[0], [], live[0].size
    for entity in live[1:]:
        if size >= members:
            break
        others.append(entity)
        size += entity.size
    entity_services.merge_entities(survivor=survivor, others=others, user=steward, reason="benchmark: one big entity")
    survivor.refresh_from_db()
    for n in range(activities):
        record_activity(kind=Activity.Kind.OVERRIDE if n % 2 else Activity.Kind.CLUSTER_EDIT, actor=steward,
                        summary=f"benchmark activity {n}", inputs=[survivor], outputs=[survivor])
    return survivor, steward


def measure(*, rounds: int, members: int, activities: int, profile: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from steward.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        entity, steward = seed(members, activities)
        seed_s = time.perf_counter() - started
        pages = Client()
        pages.force_login(steward)
        slug = entity.entity_type.slug
        urls = {"lineage_page": f"/entities/{slug}/{entity.pk}/lineage/",
                "lineage_api": f"/api/lineage/entity-types/{slug}/entities/{entity.pk}/",
                "entity_page": f"/entities/{slug}/{entity.pk}/"}
        figures = {}
        for kind, url in urls.items():
            assert pages.get(url).status_code == 200, url  # warm: caches of the process
            times, queries = [], []
            for _ in range(rounds):
                with CaptureQueriesContext(connection) as captured:
                    began = time.perf_counter()
                    response = pages.get(url)
                    times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
                queries.append(len(captured))
            figures[kind] = {"median_ms": round(statistics.median(times), 1), "worst_ms": round(max(times), 1),
                             "queries": max(queries)}
        if profile:  # where the lineage page's time goes, to stderr
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                pages.get(urls["lineage_page"])
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        from lineage.models import ActivityObject

        return {
            "benchmark": "lineage_page", "database": connection.vendor, "members": entity.size,
            "activities": ActivityObject.objects.filter(object_id=str(entity.pk)).values("activity_id").distinct().count(),
            "rounds": rounds, "seed_s": round(seed_s, 1), **figures,
            "lineage_page_under_300ms": figures["lineage_page"]["median_ms"] < 300,
            "load_average": [round(x, 2) for x in os.getloadavg()], "debug": settings.DEBUG,
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of the lineage page")
    args = parser.parse_args()
    print(json.dumps(measure(rounds=args.rounds, members=args.members, activities=args.activities, profile=args.profile)))


if __name__ == "__main__":
    main()
