from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, UserStatus
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal access token for EMAIL and print it alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="Command-line token")

    def handle(self, *args, email, name, **options):
        user = User.objects.exclude(status=UserStatus.INACTIVE).filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No active user with email {email}.")
        _, raw = api_token_create(user=user, name=name)
        self.stdout.write(raw)
