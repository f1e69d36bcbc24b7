# Drawing.input_sha256: the SHA-256 of the stored model input, so that the fine-tune's count of new corrections can
# tell distinct images from copies in SQL. New rows get it on insert (recognizer.models.InputDigestField); this
# migration fills it for the rows already there, a chunk at a time.

import hashlib

from django.db import migrations

import recognizer.models

CHUNK = 2000


def fill_input_sha256(apps, schema_editor) -> None:
    Drawing = apps.get_model("recognizer", "Drawing")
    pending = []
    for drawing in Drawing.objects.only("pk", "model_input").iterator(chunk_size=CHUNK):
        # The digest as of this migration (models.input_sha256 may change later; what is stored must not).
        drawing.input_sha256 = hashlib.sha256(bytes(drawing.model_input)).hexdigest()
        pending.append(drawing)
        if len(pending) == CHUNK:
            Drawing.objects.bulk_update(pending, ["input_sha256"])
            pending = []
    Drawing.objects.bulk_update(pending, ["input_sha256"])


class Migration(migrations.Migration):
    dependencies = [
        ("recognizer", "0011_split_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="drawing",
            name="input_sha256",
            field=recognizer.models.InputDigestField(
                db_index=True,
                default="",
                editable=False,
                help_text="SHA-256 of the model input (set on save).",
                max_length=64,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_input_sha256, migrations.RunPython.noop),
    ]
