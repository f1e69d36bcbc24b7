"""The not-a-digit detector's ``.tflite``, read beside the digit model (trained by ``manage.py train_not_a_digit``:
:mod:`training.ml.not_a_digit`).

The digit model's own evidence misses drawings that look enough like some digit (a heart, a smiley, many letters);
this small binary network learnt digits against generated non-digits. Its logit (higher: less like a digit) is stored
with each drawing (``Drawing.detector``) and weighed with the digit model's evidence by
:func:`recognizer.core.open_set.assess`.
"""

from __future__ import annotations

from recognizer.core.classifier import OneScore


class NotADigitDetector(OneScore):
    """Its score is a logit: above 0 it finds the input more like its non-digits than like its digits."""
