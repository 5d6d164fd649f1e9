"""Demo data: three sources of people built from Febrl 3 (see the README for attribution)."""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent

_PERSON_FIELDS = {"date_of_birth": "string", "postcode": "string"}

DEMO_SOURCES = [
    {
        "name": "CRM", "slug": "crm", "file": "crm.csv", "key_field": "customer_id", "priority": 30,
        "description": "Customer master of the sales team.",
        "fields": [{"name": n, "type": "string", "required": n in ("customer_id", "surname")} for n in
                   ["customer_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
                    "postcode", "state", "date_of_birth", "soc_sec_id"]],
    },
    {
        "name": "Billing", "slug": "billing", "file": "billing.csv", "key_field": "account_id", "priority": 20,
        "description": "Accounts of the billing system.",
        "fields": [{"name": n, "type": "string", "required": n == "account_id"} for n in
                   ["account_id", "first_name", "last_name", "street", "suburb", "postcode", "state", "birth_date", "ssn"]],
    },
    {
        "name": "Web sign-ups", "slug": "web", "file": "web.csv", "key_field": "signup_id", "priority": 10,
        "description": "People who signed up on the website.",
        "fields": [{"name": "signup_id", "type": "integer", "required": True}]
        + [{"name": n, "type": "string"} for n in ["first_name", "surname", "suburb", "postcode", "date_of_birth"]]
        + [{"name": "email", "type": "email"}],
    },
]

DEMO_USERS = [
    ("admin", "admin", "steward-admin"),
    ("steward", "steward", "steward-steward"),
    ("curator", "curator", "steward-curator"),
    ("curator2", "curator", "steward-curator2"),
    ("business", "business user", "steward-business"),
    ("engineer", "data engineer", "steward-engineer"),
]


_CLEAN = ["trim", "lowercase", "collapse_whitespace"]

DEMO_ENTITY_TYPE = {
    "name": "Person",
    "slug": "person",
    "description": "People known to sales, billing and the website.",
    "attributes": [
        {"name": "given_name", "comparator": "String", "survivorship": "most_frequent"},
        {"name": "surname", "comparator": "String", "survivorship": "most_frequent"},
        {"name": "address", "comparator": "String", "survivorship": "source_priority"},
        {"name": "suburb", "comparator": "String", "survivorship": "most_frequent"},
        {"name": "postcode", "comparator": "ShortString", "survivorship": "most_frequent"},
        {"name": "state", "comparator": "ShortString", "survivorship": "most_frequent"},
        {"name": "date_of_birth", "comparator": "ShortString", "survivorship": "most_frequent"},
        {"name": "soc_sec_id", "comparator": "ShortString", "survivorship": "source_priority"},
        {"name": "email", "comparator": "Ignore", "survivorship": "most_recent"},
    ],
    "mappings": [
        {"source": "crm", "field": f, "attribute": a, "transforms": _CLEAN} for f, a in [
            ("given_name", "given_name"), ("surname", "surname"), ("street_number", "address"), ("address_1", "address"),
            ("suburb", "suburb"), ("postcode", "postcode"), ("state", "state"), ("date_of_birth", "date_of_birth"),
            ("soc_sec_id", "soc_sec_id")]
    ] + [
        {"source": "billing", "field": f, "attribute": a, "transforms": _CLEAN} for f, a in [
            ("first_name", "given_name"), ("last_name", "surname"), ("street", "address"), ("suburb", "suburb"),
            ("postcode", "postcode"), ("state", "state"), ("birth_date", "date_of_birth"), ("ssn", "soc_sec_id")]
    ] + [
        {"source": "web", "field": f, "attribute": a, "transforms": _CLEAN} for f, a in [
            ("first_name", "given_name"), ("surname", "surname"), ("suburb", "suburb"), ("postcode", "postcode"),
            ("date_of_birth", "date_of_birth"), ("email", "email")]
    ],
}


def after_load() -> list[str]:
    """Create the demo entity type with its mappings, once."""
    from mastering.models import EntityType
    from mastering.services import create_entity_type

    if EntityType.objects.filter(slug=DEMO_ENTITY_TYPE["slug"]).exists():
        return ["Person: demo entity type already set up."]
    create_entity_type(actor=None, **DEMO_ENTITY_TYPE)
    return ["Created the Person entity type, mapped from CRM, Billing and Web sign-ups."]
