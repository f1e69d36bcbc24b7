"""``manage.py ensure_model``: make sure a model version is active, registering the shipped default if needed."""

from django.core.management.base import BaseCommand

from recognizer.registry import ensure_default_model


class Command(BaseCommand):
    help = "Register and activate the shipped default model unless some model version is already active."

    def handle(self, *args, **options) -> None:
        version, created = ensure_default_model()
        state = "registered and activated" if created else "is active"
        accuracy = version.mnist_accuracy
        self.stdout.write(self.style.SUCCESS(f"Model {version.name} {state} (MNIST test accuracy {accuracy:.2%})."))
