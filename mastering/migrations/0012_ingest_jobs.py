"""An ingest is a Job: a job may work for a source, and a table's batch links to its job."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('mastering', '0011_job_hold'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='ingestbatch',
            name='job',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='batch', to='mastering.job'),
        ),
        migrations.AddField(
            model_name='job',
            name='source',
            field=models.ForeignKey(blank=True, help_text='The source an ingest job writes to.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='mastering.source'),
        ),
        migrations.AlterField(
            model_name='ingestbatch',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('rejected', 'Rejected'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='queued', max_length=10),
        ),
        migrations.AlterField(
            model_name='job',
            name='entity_type',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='mastering.entitytype'),
        ),
        migrations.AlterField(
            model_name='job',
            name='kind',
            field=models.CharField(choices=[('train', 'Train the model'), ('prepare_queue', 'Fill the labeling queue'), ('master', 'Master (match, cluster, golden records)'), ('golden', 'Recompute golden records'), ('ingest', 'Ingest a table')], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='job',
            constraint=models.CheckConstraint(condition=models.Q(('entity_type__isnull', False), ('source__isnull', False), _connector='OR'), name='job_works_for_something'),
        ),
    ]
