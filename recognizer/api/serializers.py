"""API representations of drawings and corrections (Django REST framework)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from recognizer.api.authentication import correction_token
from recognizer.core import strokes as core_strokes
from recognizer.core.uncertainty import Judgement, Reason
from recognizer.images import array_to_png, png_data_url
from recognizer.models import Drawing

_POINT = {
    "type": "array",
    "minItems": 3,
    "maxItems": 4,
    "items": {"type": "number", "nullable": True},
    "description": "[x, y, t] or [x, y, t, pressure]: x and y 0-1 fractions of the canvas (x right, y down), "
    f"t milliseconds since the drawing began (0-{core_strokes.MAX_DURATION_MS}, not decreasing), pressure 0-1.",
}
STROKES_SCHEMA = {
    "type": "object",
    "required": ["strokes"],
    "additionalProperties": False,
    "properties": {
        "strokes": {
            "type": "array",
            "minItems": 1,
            "maxItems": core_strokes.MAX_STROKES,
            "items": {"type": "array", "minItems": 1, "maxItems": core_strokes.MAX_POINTS_PER_STROKE, "items": _POINT},
            "description": f"The strokes in the order drawn; at most {core_strokes.MAX_POINTS} points in all.",
        },
        "aspect": {
            "type": "number",
            "minimum": core_strokes.MIN_ASPECT,
            "maximum": core_strokes.MAX_ASPECT,
            "default": 1.0,
            "description": "The canvas's width / height.",
        },
        "pointer": {"type": "string", "enum": list(core_strokes.POINTER_TYPES), "default": "unknown"},
    },
}


@extend_schema_field(STROKES_SCHEMA)
class StrokesField(serializers.JSONField):
    """The drawing as strokes (:mod:`recognizer.core.strokes`); the views validate it with its ``parse``."""


class PredictionRequestSerializer(serializers.Serializer):
    """``image`` (a base64 data URL in JSON, or a multipart file), ``strokes``, or both.

    The same request reads one digit at ``/api/predictions/`` and a whole number at ``/api/numbers/``. Strokes are
    rendered with the page's brush; when both are sent, the strokes are read (a number's digits are then split by
    which strokes make which digit, not by cutting the picture) and the image is not decoded.
    """

    image = serializers.JSONField(
        required=False,
        help_text="A data URL (data:image/png;base64,...) in JSON, or an image file in a multipart form.",
    )
    strokes = StrokesField(
        required=False,
        help_text="The drawing as strokes (in a multipart form: the same as JSON text). Malformed or out of bounds: "
        "400 invalid_strokes.",
    )

    def validate(self, data: dict) -> dict:
        if data.get("image") is None and data.get("strokes") is None:
            raise serializers.ValidationError({"image": ["Send an image, strokes, or both."]})
        return data


class PlainIntegerField(serializers.IntegerField):
    """A whole number written plainly: a JSON number, or a string of ASCII digits (a form field), nothing else.

    DRF's ``IntegerField`` reads anything Python's ``int()`` does: ``"\\u0667"`` (an Arabic-Indic seven), ``"+7"``,
    ``" 7"``, ``"7.0"``, ``7.0``, ``true``. What trains the model or splits a number takes only the plain forms.
    """

    def to_internal_value(self, data) -> int:
        if type(data) is int:
            return data
        if isinstance(data, str) and 0 < len(data) <= 3 and data.isascii() and data.isdigit():
            return int(data)
        self.fail("invalid")


class DigitField(PlainIntegerField):
    """A digit 0-9, written plainly: the JSON number ``7`` or the string ``"7"``."""

    default_error_messages = {"invalid": "A label is one digit 0-9, as a number or a one-character string."}

    def to_internal_value(self, data) -> int:
        value = super().to_internal_value(data)
        if not 0 <= value <= 9 or (isinstance(data, str) and len(data) != 1):
            self.fail("invalid")
        return value


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueField(serializers.BooleanField):
    """``true`` (the JSON value, or the text a form sends), nothing else: like a label, a claim that trains the model
    is taken only in its plain form, and ``false`` says nothing (the digit is sent as ``label``)."""

    default_error_messages = {"invalid": "Send not_a_digit as true, or leave it out and send the digit as label."}
    default_empty_html = empty  # left out of a form is left out (a BooleanField would read it as false)

    def to_internal_value(self, data):
        if data is True or data == "true":
            return True
        self.fail("invalid")


class CorrectionRequestSerializer(serializers.Serializer):
    """Exactly one of label (the digit that was really drawn) and not_a_digit: true (it is no digit at all)."""

    label = DigitField(min_value=0, max_value=9, required=False, help_text="The digit that was really drawn, 0-9.")
    not_a_digit = TrueField(
        required=False,
        help_text="true: the drawing is not a digit at all (a letter, a doodle, a scribble). Instead of label.",
    )
    token = serializers.CharField(
        required=False, allow_blank=True, help_text="The correction_token from the prediction, for cookie-less clients."
    )

    def validate(self, data: dict) -> dict:
        """``label`` becomes the stored label either way: the digit, or ``Drawing.NOT_A_DIGIT``."""
        if ("label" in data) == ("not_a_digit" in data):
            raise serializers.ValidationError(
                "Send either label (the digit drawn, 0-9) or not_a_digit: true (it is not a digit), not "
                + ("both." if "label" in data else "neither.")
            )
        if data.pop("not_a_digit", False):
            data["label"] = Drawing.NOT_A_DIGIT
        return data


class SplitRequestSerializer(serializers.Serializer):
    digits = PlainIntegerField(
        min_value=1,
        max_value=settings.DIGITS_MAX_NUMBER_DIGITS,
        help_text="How many digits the number really has; the same count as now changes nothing.",
    )
    token = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The correction_token of any digit of the number, for cookie-less clients.",
    )


class CorrectionSerializer(serializers.Serializer):
    label = serializers.SerializerMethodField(
        help_text="The digit a person said was drawn, 0-9; null without a correction, or when it is not a digit."
    )
    not_a_digit = serializers.BooleanField(
        source="corrected_not_a_digit", help_text="True when a person said the drawing is not a digit at all."
    )
    status = serializers.CharField(source="correction_status")
    corrected_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.IntegerField(min_value=0, max_value=9, allow_null=True))
    def get_label(self, drawing: Drawing) -> int | None:
        return None if drawing.corrected_not_a_digit else drawing.corrected_label


def absolute_url(context: dict, path: str) -> str:
    """The path as a full URL on the request's host, when the serializer has the request."""
    request = context.get("request")
    return request.build_absolute_uri(path) if request else path


def judgement_of(drawing: Drawing) -> Judgement:
    """The drawing's :func:`~recognizer.core.uncertainty.judge`, computed once per instance (several fields read it)."""
    if getattr(drawing, "_judgement", None) is None:
        drawing._judgement = drawing.judgement()
    return drawing._judgement


class DrawingSerializer(serializers.Serializer):
    """A stored prediction, with what a client needs to show it and to correct it.

    A plain serializer with every field declared: a ``ModelSerializer`` rebuilds its fields from the model's
    metadata for each instance, which was a tenth of a prediction request's time.
    """

    id = serializers.IntegerField(read_only=True)
    submission = serializers.IntegerField(source="submission_id")
    position = serializers.IntegerField(help_text="Where the digit stands in its submission: 0 for the first.")
    digit = serializers.IntegerField(source="predicted_digit")
    confidence = serializers.FloatField(help_text="The probability of the predicted digit, 0-1.")
    probabilities = serializers.ListField(
        child=serializers.FloatField(), help_text="The probability of each digit 0-9, summing to 1."
    )
    uncertain = serializers.SerializerMethodField(
        help_text="True when this answer must not be presented as fact (see uncertain_reason)."
    )
    uncertain_reason = serializers.SerializerMethodField(
        help_text="Why the answer is uncertain: not_a_digit (the drawing is unlike any digit: its shape, or weak "
        "evidence for every digit), ambiguous (two or more digits are plausible: see candidates), low_confidence "
        "(the model's top probability is low), or null when it is not."
    )
    candidates = serializers.SerializerMethodField(
        help_text="The plausible digits, most probable first: one, or two or three when ambiguous (a 4 or a 9?)."
    )
    model_version = serializers.CharField(source="model_version.name")
    created_at = serializers.DateTimeField()
    correction = CorrectionSerializer(source="*")
    correction_url = serializers.SerializerMethodField()
    correction_token = serializers.SerializerMethodField()
    input_image = serializers.SerializerMethodField(help_text="The 28x28 input the model saw, as a PNG data URL.")
    superseded = serializers.SerializerMethodField(
        help_text="True when its number was read again with another count of digits: this digit was cut wrong, is "
        "kept for the record, and can no longer be corrected but by staff."
    )

    def get_uncertain(self, drawing: Drawing) -> bool:
        return judgement_of(drawing).uncertain

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=9)))
    def get_candidates(self, drawing: Drawing) -> list[int]:
        return judgement_of(drawing).candidates

    @extend_schema_field(serializers.ChoiceField(choices=[r.value for r in Reason], allow_null=True))
    def get_uncertain_reason(self, drawing: Drawing) -> str | None:
        reason = judgement_of(drawing).reason
        return None if reason is None else reason.value

    def get_correction_url(self, drawing: Drawing) -> str:
        return absolute_url(self.context, reverse("prediction-correction", args=[drawing.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_correction_token(self, drawing: Drawing) -> str | None:
        """Only the client that just made the drawing gets the token (see the create endpoint)."""
        return correction_token(drawing.pk) if self.context.get("include_token") else None

    def get_input_image(self, drawing: Drawing) -> str:
        return png_data_url(array_to_png(drawing.input_array))

    def get_superseded(self, drawing: Drawing) -> bool:
        return drawing.superseded_by_id is not None


class NumberSerializer(serializers.Serializer):
    """A number written as several digits: the whole number and each digit's own prediction."""

    submission = serializers.IntegerField(source="pk")
    number = serializers.CharField()
    confidence = serializers.SerializerMethodField(help_text="The lowest confidence among the digits.")
    uncertain = serializers.SerializerMethodField(help_text="True when any digit is uncertain.")
    digits = serializers.SerializerMethodField()
    split_url = serializers.SerializerMethodField(
        help_text="Where to say how many digits the number really has, when it was split wrong."
    )

    def get_confidence(self, submission) -> float:
        return min(d.confidence for d in submission.ordered_drawings)

    def get_uncertain(self, submission) -> bool:
        return any(judgement_of(drawing).uncertain for drawing in submission.ordered_drawings)

    @extend_schema_field(DrawingSerializer(many=True))
    def get_digits(self, submission) -> list[dict]:
        return DrawingSerializer(submission.ordered_drawings, many=True, context=self.context).data

    def get_split_url(self, submission) -> str:
        return absolute_url(self.context, reverse("number-split", args=[submission.pk]))


class ErrorSerializer(serializers.Serializer):
    """Every error: what is wrong, for people, and a stable code for programs."""

    detail = serializers.CharField()
    code = serializers.CharField(
        help_text="invalid_input, invalid_image, invalid_strokes, image_too_large, empty_drawing, number_too_large, "
        "cannot_split, correction_locked, split_conflict, throttled, …"
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="With invalid_input: the messages for each field.",
    )
