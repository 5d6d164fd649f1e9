"""Batches record the unchanged records they saw as runs of ids, instead of rewriting each record.

Existing last-seen references become sightings before the column goes, and the page room left
for rewriting that column (fillfactor 70) is given back. Records' reference to their source is
no longer checked by the database on each written row (see SourceRecord.source).
"""

import django.db.models.deletion
from django.db import migrations, models


def keep_last_seen_as_sightings(apps, schema_editor):
    SourceRecord = apps.get_model("mastering", "SourceRecord")
    BatchSighting = apps.get_model("mastering", "BatchSighting")
    seen = (
        SourceRecord.objects.exclude(last_seen_batch_id=models.F("changed_batch_id"))
        .order_by("last_seen_batch_id", "id").values_list("last_seen_batch_id", "id")
    )
    runs: list = []
    for batch_id, record_id in seen.iterator(chunk_size=5000):
        last = runs[-1] if runs else None
        if last and last.batch_id == batch_id and last.last_record_id == record_id - 1:
            last.last_record_id = record_id
        else:
            runs.append(BatchSighting(batch_id=batch_id, first_record_id=record_id, last_record_id=record_id))
    BatchSighting.objects.bulk_create(runs, batch_size=1000)


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE mastering_sourcerecord RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("mastering", "0002_sourcerecord_fillfactor")]

    operations = [
        migrations.CreateModel(
            name="BatchSighting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("first_record_id", models.BigIntegerField()),
                ("last_record_id", models.BigIntegerField()),
                ("batch", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="sightings",
                                            to="mastering.ingestbatch")),
            ],
            options={
                "indexes": [models.Index(fields=["first_record_id", "last_record_id"], name="sighting_record_range")],
            },
        ),
        migrations.RunPython(keep_last_seen_as_sightings, migrations.RunPython.noop),
        migrations.RemoveField(model_name="sourcerecord", name="last_seen_batch"),
        migrations.AlterField(
            model_name="sourcerecord", name="source",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="records", to="mastering.source"),
        ),
        migrations.RunPython(reset_fillfactor, migrations.RunPython.noop),
    ]
