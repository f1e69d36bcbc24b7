from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        from celery import current_app

        from training.celery_steps import SendWaitingFineTunes

        current_app.steps["consumer"].add(SendWaitingFineTunes)
