from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("auth", "0012_alter_user_first_name_max_length"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.CreateModel(
            name="Capability",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("configure", "Can configure sources, entity types, mappings and users"),
                    ("ingest", "Can push tables and records into sources"),
                    ("run_jobs", "Can start and cancel training and mastering jobs"),
                    ("label", "Can label candidate pairs in the queue"),
                    ("curate", "Can edit clusters and override golden values"),
                    ("adjudicate", "Can settle labeling disagreements"),
                    ("edit_rules", "Can change survivorship rules and match thresholds"),
                    ("triage_issues", "Can triage, assign and resolve data issues"),
                    ("file_issues", "Can file and comment on data issues"),
                ],
            },
        ),
    ]
