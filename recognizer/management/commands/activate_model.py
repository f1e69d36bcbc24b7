"""``manage.py activate_model VERSION``: serve another version everywhere (also how to roll back)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.models import ModelVersion
from recognizer.registry import ActivationRefused, activate


class Command(BaseCommand):
    help = "Activate a model version by name; every web process serves it within seconds, without a restart."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="The version name (see the admin or `--list`).", nargs="?")
        parser.add_argument("--list", action="store_true", help="List the versions and exit.")

    def handle(self, *args, **options) -> None:
        if options["list"] or not options["version"]:
            for version in ModelVersion.objects.all():
                mark = "*" if version.is_active else " "
                accuracy = version.mnist_accuracy
                shown = "—" if accuracy is None else f"{accuracy:.2%}"
                self.stdout.write(
                    f"{mark} {version.name:40} MNIST {shown}  trained {version.trained_at:%Y-%m-%d %H:%M}"
                )
            return
        try:
            version = ModelVersion.objects.get(name=options["version"])
        except ModelVersion.DoesNotExist as exc:
            raise CommandError(f"No model version named {options['version']!r}; see --list.") from exc
        try:
            activate(version)
        except ActivationRefused as exc:
            raise CommandError(f"Activation refused, the active model is unchanged: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Model {version.name} is now active."))
