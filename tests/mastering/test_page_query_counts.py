"""What the pages people browse cost in SQL, pinned: a fixed handful of queries however many rows a page shows."""

import pytest

from mastering import services
from mastering.models import Entity, Job, SourceRecord
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db

# session, user, then the page's own reads (entity type, counts, rows, filters' choices), permissions for the menu,
# and the notification bell's unread count (one query on every signed-in page)
# The record page reads one more (issue 15): the entities the record is in, so a record links to its entity.
PAGE_QUERIES = {"entity_list": 9, "entity": 8, "source": 10, "record": 10, "entity_lineage": 18}


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    assert Entity.objects.filter(entity_type=entity_type).count() > 5
    return entity_type, source


def page_paths(entity_type, source) -> dict[str, str]:
    entity = Entity.objects.filter(entity_type=entity_type, size__gt=1).order_by("pk").first()
    record = SourceRecord.objects.filter(source=source).order_by("pk").first()
    return {
        "entity_list": f"/entities/{entity_type.slug}/",
        "entity": f"/entities/{entity_type.slug}/{entity.pk}/",
        "source": f"/sources/{source.slug}/",
        "record": f"/sources/{source.slug}/records/{record.key}/",
        "entity_lineage": f"/entities/{entity_type.slug}/{entity.pk}/lineage/",
    }


@pytest.mark.parametrize("page", sorted(PAGE_QUERIES))
def test_a_browse_page_costs_a_fixed_handful_of_queries(page, mastered, client_for, business_user, django_assert_max_num_queries):
    path = page_paths(*mastered)[page]
    browser = client_for(business_user)
    assert browser.get(path).status_code == 200  # the first request of a process loads its caches
    with django_assert_max_num_queries(PAGE_QUERIES[page]):
        response = browser.get(path)
    assert response.status_code == 200


def test_the_entity_list_shows_every_row_without_a_query_per_row(mastered, client_for, business_user,
                                                                django_assert_max_num_queries):
    entity_type, _ = mastered
    browser = client_for(business_user)
    assert browser.get(f"/entities/{entity_type.slug}/?page=2").status_code == 200  # loads the process's caches
    with django_assert_max_num_queries(PAGE_QUERIES["entity_list"]):
        response = browser.get(f"/entities/{entity_type.slug}/")
    shown = response.context["rows"]
    assert len(shown) == Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).count() > 5
    assert all(str(row["entity"].pk)[:8] in response.content.decode() for row in shown)


def test_the_entity_lineage_page_costs_the_same_however_many_members(mastered, client_for, steward,
                                                                    django_assert_num_queries):
    """Merging entities into one grows its members (and their batches, runs and edits); the page's queries stay."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mastering.services import entities as entity_services

    entity_type, _ = mastered
    browser = client_for(steward)
    entity = Entity.objects.filter(entity_type=entity_type, size__gt=1, retired_at__isnull=True).order_by("pk").first()
    url = f"/entities/{entity_type.slug}/{entity.pk}/lineage/"
    browser.get(url)
    with CaptureQueriesContext(connection) as small:
        assert browser.get(url).status_code == 200
    queries = len(small.captured_queries)  # now: the log is a bounded deque that the merge below rotates
    others = list(Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).exclude(pk=entity.pk))
    entity_services.merge_entities(survivor=entity, others=others, user=steward, reason="one big entity for the count")
    entity.refresh_from_db()
    assert entity.size >= 10
    browser.get(url)
    with django_assert_num_queries(queries):
        response = browser.get(url)
    assert len(response.context["lineage"].facts["members"]) == entity.size
