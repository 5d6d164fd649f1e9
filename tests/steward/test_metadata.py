"""OPTIONS on every API route: what each method accepts, never a server error."""

import pytest
from drf_spectacular.generators import EndpointEnumerator

from tests.factories import api_world, fill_path

pytestmark = pytest.mark.django_db


def api_paths() -> list[str]:
    """Every API route in the URL conf, as a path template."""
    return sorted({path for path, _, _, _ in EndpointEnumerator().get_api_endpoints()} | {"/api/"})


def test_options_answers_every_api_route(api_for, admin_user):
    world = api_world(admin_user)
    api = api_for(admin_user)
    paths = api_paths()
    assert "/api/pairs/{pk}/answer/" in paths and len(paths) > 30
    answers = {path: api.options(fill_path(path, world)).status_code for path in paths}
    assert {path: code for path, code in answers.items() if code != 200} == {}


def test_options_describes_the_input_of_the_action_each_method_runs_for_the_caller(api_for, admin_user, curator):
    world = api_world(admin_user)
    api = api_for(admin_user)
    answer = api.options(fill_path("/api/pairs/{pk}/answer/", world)).json()
    assert set(answer["actions"]["POST"]) == {"answer", "seconds_spent"}
    assert answer["actions"]["POST"]["answer"]["type"] == "choice"
    assert set(api.options(fill_path("/api/pairs/{pk}/adjudicate/", world)).json()["actions"]["POST"]) == {"answer"}
    assert api.options(fill_path("/api/pairs/{pk}/skip/", world)).json()["actions"] == {"POST": {}}
    assert set(api.options(fill_path("/api/labels/{pk}/revoke/", world)).json()["actions"]["POST"]) == {"reason"}
    assert set(api.options(fill_path("/api/entity-types/{slug}/jobs/", world)).json()["actions"]["POST"]) == {"kind", "parameters"}
    # A curator may answer pairs but not adjudicate them: OPTIONS leaves out what the caller cannot do.
    as_curator = api_for(curator)
    assert set(as_curator.options(fill_path("/api/pairs/{pk}/answer/", world)).json()["actions"]) == {"POST"}
    assert "actions" not in as_curator.options(fill_path("/api/pairs/{pk}/adjudicate/", world)).json()
