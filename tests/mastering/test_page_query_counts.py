"""What the pages people browse cost in SQL, pinned: a fixed handful of queries however many rows a page shows."""

import pytest

from mastering import services
from mastering.models import Entity, Job, SourceRecord
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db

# session, user, then the page's own reads (entity type, counts, rows, filters' choices), permissions for the menu,
# and the notification bell's unread count (one query on every signed-in page)
PAGE_QUERIES = {"entity_list": 10, "entity": 8, "source": 10, "record": 9}


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
    with django_assert_max_num_queries(PAGE_QUERIES["entity_list"]):
        response = browser.get(f"/entities/{entity_type.slug}/")
    shown = response.context["rows"]
    assert len(shown) == Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).count() > 5
    assert all(str(row["entity"].pk)[:8] in response.content.decode() for row in shown)
