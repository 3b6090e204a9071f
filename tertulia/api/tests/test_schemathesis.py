"""Schemathesis against our own OpenAPI schema, in-process (WSGI), for every operation.

The schema is loaded from the running app (``/api/v1/openapi.json``), so it is the one the
API serves. Each operation is called by the owner of a populated brand, with a write token
(read and write), with its path parameters pointing at real objects of that brand (random ids
would only ever exercise the 404), and with bodies and query strings that Hypothesis generates
from the schema: valid ones (positive) and invalid ones (negative: wrong types, missing fields,
values out of range, hostile strings). Every response must:

- not be a server error (``not_a_server_error``),
- have a status code the schema documents for the operation (``status_code_conformance``),
- have a content type the schema documents (``content_type_conformance``),
- match the documented schema for its status (``response_schema_conformance``).

Each request runs in a savepoint that is rolled back, so a DELETE does not take the brand
away from the operations after it. The examples are few and derandomized (the same cases on
every run, no shrinking), to keep this within the CI budget.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tertulia.api.api import TertuliaAPI, api
from tertulia.core.tests.test_isolation import PARAMS
from tertulia.core.tests.web_helpers import populate

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/v1/openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Examples per operation and mode. With 235 operations, one of each keeps CI within its budget;
# a deeper local run: TERTULIA_SCHEMATHESIS_EXAMPLES=25 pytest tertulia/api/tests/test_schemathesis.py
EXAMPLES = int(os.environ.get("TERTULIA_SCHEMATHESIS_EXAMPLES", "1"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture
def wsgi_app():
    """Django's real WSGI handler, minus the per-request connection recycling: the test's
    database transaction must survive each request (Django's own test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return populate(*brand_a, marker="Alpha")


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def _run_operation(operation, mode, path_parameters, headers, failures):
    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        with transaction.atomic():
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            finally:
                transaction.set_rollback(True)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (collected, reported all at once below)
        failures.append(f"{operation.label} [{mode.value}]: {exc}")


def test_every_operation_conforms_to_the_schema(wsgi_app, world):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app)
    headers = {"Authorization": f"Bearer {world.token_raw}"}
    values = {name: get(world) for name, get in PARAMS.items()}
    failures: list[str] = []
    count = runs = 0
    for operation in _operations(schema):
        count += 1
        names = [p.name for p in operation.path_parameters]
        path_parameters = {name: values[name] for name in names}
        for mode in MODES:
            if mode is GenerationMode.NEGATIVE and not (len(operation.query) or len(operation.body)):
                continue  # nothing to make invalid but the path, which points at real objects
            _run_operation(operation, mode, path_parameters, headers, failures)
            runs += 1
    assert count > 200 and runs > count  # every operation, and the negative cases too
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


def test_every_operation_documents_its_refusals():
    """What every operation can answer besides success, documented: 401 (every route needs a
    token or a session), 403 and 404 (a brand or an object in the path), 422 (a query or a body
    to validate) and 400 (a body that is not JSON at all)."""
    spec = api.get_openapi_schema()
    missing = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            documented = {str(code) for code in op["responses"]}
            params = op.get("parameters", [])
            needed = {"401"}
            if any(p["in"] == "path" for p in params):
                needed |= {"403", "404"}
            if any(p["in"] == "query" for p in params) or op.get("requestBody"):
                needed.add("422")
            if op.get("requestBody"):
                needed.add("400")
            if needed - documented:
                missing.append(f"{method.upper()} {path}: {sorted(needed - documented)}")
    assert not missing, "declare these in the route's response={...}:\n" + "\n".join(missing)


def test_same_named_schemas_become_distinct_components():
    """ninja alone names components by class name, so two ``Thing`` classes became ONE
    component and one route's documented answer was the other's (AccountOut in core and in
    competitors, the Status choices of ideas, conversations and accounts). Ours keeps both."""
    from ninja import Router, Schema

    first = type("Thing", (Schema,), {"__annotations__": {"first": int}, "__module__": "app_one"})
    second = type("Thing", (Schema,), {"__annotations__": {"second": str}, "__module__": "app_two"})
    holder = type("Holder", (Schema,), {"__annotations__": {"thing": second}, "__module__": "app_two"})
    router = Router()
    router.get("/one", response=first)(lambda request: None)
    router.get("/two", response=second)(lambda request: None)
    router.get("/held", response=holder)(lambda request: None)
    router.get("/again", response=first)(lambda request: None)
    test_api = TertuliaAPI(urls_namespace="schema-clash-test")
    test_api.add_router("/", router)
    spec = test_api.get_openapi_schema(path_prefix="/")
    components = spec["components"]["schemas"]

    def component(path):
        ref = spec["paths"][path]["get"]["responses"][200]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[1]]

    assert set(component("/one")["properties"]) == {"first"}
    assert set(component("/two")["properties"]) == {"second"}
    assert set(component("/again")["properties"]) == {"first"}
    held = component("/held")["properties"]["thing"]["$ref"].rsplit("/", 1)[1]
    assert set(components[held]["properties"]) == {"second"}
    assert sorted(components) == ["Holder", "Thing", "Thing2"]
