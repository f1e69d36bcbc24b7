"""Data migrations on rows that were there before them."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from recognizer.models import Drawing
from tests.support.factories import DrawingFactory

BEFORE = [("recognizer", "0011_split_corrections")]
AFTER = [("recognizer", "0012_drawing_input_sha256")]


@pytest.mark.django_db(transaction=True)
def test_existing_drawings_get_the_digest_of_their_model_input() -> None:
    drawings = [DrawingFactory(digit=digit) for digit in (1, 7)]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)  # the column is gone; the rows stay
    executor.loader.build_graph()
    executor.migrate(AFTER)
    digests = dict(Drawing.objects.values_list("pk", "input_sha256"))
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests expect

    for drawing in drawings:
        assert digests[drawing.pk] == hashlib.sha256(bytes(drawing.model_input)).hexdigest()
    assert len(set(digests.values())) == 2
