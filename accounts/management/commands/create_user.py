import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.roles import Role
from steward.errors import ServiceError


class Command(BaseCommand):
    help = "Create a user with one role: " + ", ".join(Role.values)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Prompted for when not given.")
        parser.add_argument("--update", action="store_true", help="Update the user if it exists.")

    def handle(self, *args, **options):
        password = options["password"] or getpass.getpass("Password: ")
        try:
            user = services.create_user(
                username=options["username"],
                password=password,
                role=options["role"],
                email=options["email"],
                exists_ok=options["update"],
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"User {user.username} has the role {options['role']}."))
