import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as account_services
from accounts.roles import Role
from django.contrib.auth import get_user_model
from mastering import services
from mastering.demo import DEMO_DIR, DEMO_SOURCES, DEMO_USERS
from mastering.models import IngestBatch, Source


class Command(BaseCommand):
    help = "Load the demo sources, records and users. Safe to run again: what is there already is left alone."

    def add_arguments(self, parser):
        parser.add_argument("--no-users", action="store_true", help="Do not create the demo users.")

    def handle(self, *args, **options):
        if not options["no_users"]:
            self._users()
        for spec in DEMO_SOURCES:
            source = Source.objects.filter(slug=spec["slug"]).first()
            if source is None:
                source = services.create_source(actor=None, **{k: v for k, v in spec.items() if k != "file"})
                self.stdout.write(f"Created source {source.name}.")
            self._ingest(source, DEMO_DIR / spec["file"])
        from mastering.demo import after_load

        for line in after_load():
            self.stdout.write(line)

    def _ingest(self, source: Source, path: Path) -> None:
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        if source.batches.filter(checksum=checksum, status=IngestBatch.Status.SUCCEEDED).exists():
            self.stdout.write(f"{source.name}: demo table already loaded.")
            return
        with open(path, "rb") as stream:
            batch = services.receive_table(
                source=source, stream=stream, file_name=path.name, user=None,
                channel=IngestBatch.Channel.COMMAND, background=False,
            )
        self.stdout.write(f"{source.name}: {batch.status}, {batch.created} new, {batch.unchanged} unchanged records.")

    @transaction.atomic
    def _users(self) -> None:
        User = get_user_model()
        self.stdout.write("Demo users (username / password):")
        for username, role, password in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                account_services.create_user(username=username, password=password, role=role)
            self.stdout.write(f"  {username:<10} / {password:<18} ({Role(role).label})")
