"""Leave room in each page of source records so updating unchanged rows (last seen batch) stays in place."""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE mastering_sourcerecord SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE mastering_sourcerecord RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("mastering", "0001_initial")]
    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
