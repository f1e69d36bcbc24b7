"""Template tags for the admin index: how many drawings wait in the review queue."""

from django import template

from recognizer.models import Drawing
from recognizer.review import needs_review

register = template.Library()


@register.simple_tag
def review_queue_size() -> int:
    return needs_review(Drawing.objects.all()).count()
