from django.apps import AppConfig


class RecognizerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recognizer"
    verbose_name = "Digit recognizer"

    def ready(self) -> None:
        from recognizer import admin_login  # noqa: F401 (connects the slowing of failed admin logins)
