"""Schemathesis drives the real gateway (gunicorn over a running embedded exchange) from its
own ``/openapi.json``: no 5xx ever, and every status code, content type, header and body
must be one the document allows.

(``schemathesis.pytest.from_fixture`` does not run under pytest 9, so the operations are
driven from one test, each with its own Hypothesis run; every failure is collected.)
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

pytestmark = pytest.mark.timeout(300)

EXAMPLES_PER_OPERATION = 30
# Not ``positive_data_acceptance``: a schema-valid body can still break a rule no JSON Schema
# states (a price off the pair's tick, outside its band); those answers are documented 400s.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def test_api_conforms_to_its_openapi_document(embedded_exchange):
    schema = schemathesis.openapi.from_url(f"{embedded_exchange.base_url}/openapi.json")
    headers = {"X-API-Key": embedded_exchange.api_key}
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(base_url=embedded_exchange.base_url, headers=headers,
                                  checks=CHECKS)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect, report all at the end
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 14
    assert not failures, "\n\n".join(failures)
