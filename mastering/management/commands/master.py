import json

from django.core.management.base import BaseCommand, CommandError

from mastering import services
from mastering.models import EntityType
from steward.errors import ServiceError


class Command(BaseCommand):
    help = "Run a mastering job for an entity type (in the background when a broker is configured)."

    def add_arguments(self, parser):
        parser.add_argument("entity_type", help="The entity type's slug.")
        parser.add_argument("--kind", default="master", choices=["master", "train", "golden"])

    def handle(self, *args, **options):
        try:
            entity_type = EntityType.objects.get(slug=options["entity_type"])
        except EntityType.DoesNotExist:
            raise CommandError(f"No entity type with slug {options['entity_type']!r}.") from None
        try:
            job = services.start_job(entity_type=entity_type, kind=options["kind"])
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        job.refresh_from_db()
        self.stdout.write(json.dumps({"job": job.pk, "status": job.status, "counts": job.counts, "timings": job.timings,
                                      "error": job.error}, default=str))
        if job.status == "failed":
            raise CommandError(f"Job {job.pk} failed: {job.error}")
