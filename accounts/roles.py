"""The role matrix: which capabilities each role (a Django group) grants.

Roles are groups so admins can see and change them in Django admin; capabilities are
permissions on `accounts.Capability`, checked as `user.has_perm("accounts.<codename>")`.
"""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    STEWARD = "steward", "Steward"
    CURATOR = "curator", "Curator"
    BUSINESS_USER = "business user", "Business user"
    DATA_ENGINEER = "data engineer", "Data engineer"


CAPABILITIES: dict[str, str] = {
    "configure": "Can configure sources, entity types, mappings and users",
    "ingest": "Can push tables and records into sources",
    "run_jobs": "Can start and cancel training and mastering jobs",
    "label": "Can label candidate pairs in the queue",
    "curate": "Can edit clusters and override golden values",
    "adjudicate": "Can settle labeling disagreements",
    "edit_rules": "Can change survivorship rules and match thresholds",
    "triage_issues": "Can triage, assign and resolve data issues",
    "file_issues": "Can file and comment on data issues",
}

ROLE_CAPABILITIES: dict[str, set[str]] = {
    Role.ADMIN: set(CAPABILITIES),
    Role.STEWARD: {"ingest", "run_jobs", "label", "curate", "adjudicate", "edit_rules", "triage_issues", "file_issues"},
    Role.CURATOR: {"run_jobs", "label", "curate", "file_issues"},
    Role.BUSINESS_USER: {"file_issues"},
    Role.DATA_ENGINEER: {"ingest", "run_jobs", "file_issues"},
}


def roles_of(user) -> list[str]:
    """The role names of a user, for display."""
    if not user.is_authenticated:
        return []
    names = [group.name for group in user.groups.all()]
    if user.is_superuser and Role.ADMIN not in names:
        names.insert(0, Role.ADMIN.value)
    return names
