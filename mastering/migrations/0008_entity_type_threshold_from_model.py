# A blank threshold now means "the active model's own" (see mastering.selectors.match_threshold_for).

import django.core.validators
from django.db import migrations, models

OLD_DEFAULT = 0.4


def default_thresholds_to_model(apps, schema_editor):
    """Types still at the old default follow their model from now on; a threshold someone chose is kept."""
    EntityType = apps.get_model("mastering", "EntityType")
    EntityType.objects.filter(match_threshold__gte=OLD_DEFAULT - 1e-9, match_threshold__lte=OLD_DEFAULT + 1e-9).update(
        match_threshold=None)


def blank_thresholds_to_old_default(apps, schema_editor):
    EntityType = apps.get_model("mastering", "EntityType")
    EntityType.objects.filter(match_threshold__isnull=True).update(match_threshold=OLD_DEFAULT)


class Migration(migrations.Migration):

    dependencies = [
        ('mastering', '0007_source_missing_values_and_field_max_length'),
    ]

    operations = [
        migrations.AlterField(
            model_name='entitytype',
            name='match_threshold',
            field=models.FloatField(blank=True, default=None, help_text="Pairs scoring above this are clustered together by the next run. Blank: use the active model's own threshold, suggested by its training.", null=True, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(1.0)]),
        ),
        migrations.RunPython(default_thresholds_to_model, blank_thresholds_to_old_default),
    ]
