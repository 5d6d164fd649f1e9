import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mastering import services
from mastering.models import IngestBatch, Source
from steward.errors import ServiceError


class Command(BaseCommand):
    help = "Ingest a CSV, JSON or JSON lines file into a source."

    def add_arguments(self, parser):
        parser.add_argument("source", help="The source's slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--mode", choices=IngestBatch.Mode.values, default=IngestBatch.Mode.APPEND)
        parser.add_argument("--partial", action="store_true", help="Keep good rows and report bad ones.")

    def handle(self, *args, **options):
        try:
            source = Source.objects.get(slug=options["source"])
        except Source.DoesNotExist:
            raise CommandError(f"No source with slug {options['source']!r}.") from None
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with open(path, "rb") as stream:
                batch = services.receive_table(
                    source=source, stream=stream, file_name=path.name, user=None,
                    channel=IngestBatch.Channel.COMMAND, mode=options["mode"], partial=options["partial"], background=False,
                )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        summary = {"batch": batch.pk, "status": batch.status, "counts": batch.counts, "problem_count": batch.problem_count, "timings": batch.timings}
        self.stdout.write(json.dumps(summary))
        if batch.status != IngestBatch.Status.SUCCEEDED:
            for problem in batch.problems[:20]:
                self.stderr.write(f"row {problem['row']} {problem['column']}: {problem['reason']} ({problem['value']})")
            raise CommandError(f"Batch {batch.pk} was {batch.status}; nothing was written.")
