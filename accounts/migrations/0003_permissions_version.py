from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("accounts", "PermissionsVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [
        migrations.CreateModel(
            name="PermissionsVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("stamp", models.BigIntegerField(
                    default=0, help_text="Random on each change, so a rolled-back change never comes back")),
            ],
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
