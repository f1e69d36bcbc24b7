"""A correction may say "not a digit": ``corrected_label`` 10 (``Drawing.NOT_A_DIGIT``) beside the digits 0-9."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recognizer", "0009_trust_and_shadow_trials"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="drawing",
            name="corrected_label_0_9",
        ),
        migrations.AlterField(
            model_name="drawing",
            name="corrected_label",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[
                    (0, "0"),
                    (1, "1"),
                    (2, "2"),
                    (3, "3"),
                    (4, "4"),
                    (5, "5"),
                    (6, "6"),
                    (7, "7"),
                    (8, "8"),
                    (9, "9"),
                    (10, "not a digit"),
                ],
                db_index=True,
                help_text="What a person said it is: a digit 0-9, or 10 for not a digit.",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="drawing",
            constraint=models.CheckConstraint(
                condition=models.Q(("corrected_label__isnull", True), ("corrected_label__lte", 10), _connector="OR"),
                name="corrected_label_digit_or_not_a_digit",
            ),
        ),
    ]
