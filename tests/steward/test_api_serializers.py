"""Request bodies: unknown fields are refused by name, in every writable serializer of the API."""

import importlib
import inspect

import pytest
from rest_framework import serializers

from steward.api.serializers import StrictInputMixin
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

API_MODULES = ["mastering.api.serializers", "mastering.api.entity_serializers", "mastering.edit_inputs", "curation.api.serializers",
               "curation.api.curate", "lineage.api.serializers"]
# Built from the query string, where ?format= and friends are not the serializer's business.
QUERY_STRING_SERIALIZERS = {"BatchInput"}


def api_serializers():
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, serializers.Serializer) and cls.__module__ == module_name and name not in QUERY_STRING_SERIALIZERS:
                yield name, cls


@pytest.mark.parametrize(("name", "cls"), list(api_serializers()), ids=lambda value: value if isinstance(value, str) else "")
def test_every_api_serializer_refuses_unknown_fields(name, cls):
    # Output-only ones too: they cost nothing, and one that later reads input is then already strict.
    assert issubclass(cls, StrictInputMixin), f"{name} would let unknown fields through"


def test_unknown_fields_are_a_400_naming_them(api_for, admin_user):
    source_with_fields("people")
    response = api_for(admin_user).patch("/api/sources/people/", {"priority": 3, "colour": "red", "sise": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown fields: colour, sise."
    assert response.json()["problems"] == {
        "non_field_errors": ["Unknown fields: colour, sise."], "colour": ["Unknown field."], "sise": ["Unknown field."]}


def test_unknown_fields_in_nested_rows_are_named_with_their_place(api_for, admin_user):
    response = api_for(admin_user).post("/api/sources/", {
        "name": "Suppliers", "key_field": "vat", "fields": [{"name": "vat", "type": "string", "nullable": True}],
    }, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "fields: 0: Unknown field: nullable."  # the first row


def test_read_only_fields_sent_back_are_not_unknown(api_for, admin_user):
    source_with_fields("people")
    api = api_for(admin_user)
    current = api.get("/api/sources/people/").json()
    response = api.put("/api/sources/people/", {**current, "priority": 4}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["priority"] == 4
