"""`manage.py create_researcher <username>`: a study owner's account and its API token."""
from __future__ import annotations

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from studies.researchers import RESEARCHER_GROUP, researcher_create


class Command(BaseCommand):
    help = (
        f"Create a researcher: a staff account (not a superuser) in the {RESEARCHER_GROUP!r} group, which "
        "holds exactly the permissions a study owner needs (updated on every run), and print its API token. "
        "Researchers see and change only their own studies."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--password", help="Set this password (it stays in the shell history; prefer "
                                                 "the prompt or --generate-password).")
        password.add_argument("--generate-password", action="store_true",
                              help="Generate a password and print it once.")
        parser.add_argument("--no-input", "--noinput", action="store_false", dest="interactive",
                            help="Never prompt; without --password a password is generated.")

    def handle(self, *args, username: str, email: str, password: str | None, generate_password: bool,
               interactive: bool, **options) -> None:
        if password is None and not generate_password and interactive:
            password = self._prompt_password()
        try:
            account = researcher_create(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Researcher {account.user.username!r} created "
                                             f"(staff, group {RESEARCHER_GROUP!r})."))
        if account.generated_password:
            self.stdout.write(f"Password: {account.generated_password}  (shown once; change it in the admin)")
        self.stdout.write(f"API token: {account.token}")
        self.stdout.write('Use it as the header "Authorization: Token <token>"; sign in at /admin/.')

    def _prompt_password(self) -> str | None:
        """Ask twice; an empty answer generates one. Refuses a mismatch instead of guessing."""
        first = getpass.getpass("Password (empty: generate one): ")
        if not first:
            return None
        if getpass.getpass("Password (again): ") != first:
            raise CommandError("The passwords differ; nothing was created.")
        return first
