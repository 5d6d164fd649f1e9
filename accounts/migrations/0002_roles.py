"""Create the role groups with their capabilities (accounts/roles.py is the matrix)."""

from django.db import migrations

# Frozen copy of the matrix at the time of this migration; later changes get their own migration.
CAPABILITIES = {
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
ROLES = {
    "admin": set(CAPABILITIES),
    "steward": {"ingest", "run_jobs", "label", "curate", "adjudicate", "edit_rules", "triage_issues", "file_issues"},
    "curator": {"run_jobs", "label", "curate", "file_issues"},
    "business user": {"file_issues"},
    "data engineer": {"ingest", "run_jobs", "file_issues"},
}


def create_roles(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    permissions = {}
    for codename, name in CAPABILITIES.items():
        permissions[codename], _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(permissions[c] for c in codenames))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_roles, remove_roles)]
