"""The job holds a batch's heartbeat now."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("mastering", "0013_jobs_for_existing_batches")]

    operations = [migrations.RemoveField(model_name="ingestbatch", name="heartbeat_at")]
