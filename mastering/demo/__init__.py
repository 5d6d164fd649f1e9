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


def after_load() -> list[str]:
    """Hook for later demo steps (entity types, mappings); returns lines to print."""
    return []
