"""Schemathesis: requests generated from the OpenAPI schema, sent to the real WSGI app with the real model.

None may get a 5xx, and every answer must match the schema (status codes, bodies, headers). The one check left
out is that schema-valid requests are accepted: no schema can say which strings are images of a digit.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from digits_site.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly fires Django's request signals, whose handler closes a connection that is in a
    transaction (the test's); Django's own test client unhooks it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers_and_never_a_server_error(
    case, active_model, keep_test_connection
) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_the_documented_request_example_is_a_real_drawing(client_api, active_model) -> None:
    served = client_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    content = served["paths"]["/api/predictions/"]["post"]["requestBody"]["content"]["application/json"]
    example = next(iter(content["examples"].values()))["value"]
    response = client_api.post("/api/predictions/", example, format="json")
    assert response.status_code == 201, response.content
