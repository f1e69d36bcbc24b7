"""Drawings and submissions belong to a client key from a signed cookie (recognizer/clients.py), no longer to a
Django session. Rows written before keep their session key in the renamed column: their clients can still correct
them with the correction token they were given."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recognizer", "0003_default_finetune_schedule"),
    ]

    operations = [
        migrations.RenameField(model_name=model, old_name="session_key", new_name="client_key")
        for model in ("drawing", "submission")
    ] + [
        migrations.AlterField(
            model_name=model,
            name="client_key",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="The anonymous client's key (recognizer/clients.py).",
                max_length=64,
            ),
        )
        for model in ("drawing", "submission")
    ]
