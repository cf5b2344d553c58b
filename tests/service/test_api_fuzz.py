"""Property-based fuzz of the REST API (schemathesis, from the service's own OpenAPI document)
against a real ``serve`` process: no generated request, valid or not, may get a 5xx.

Dispatch is paused (``MAX_RUNNING_JOBS=0``) so that the valid jobs the fuzz submits are stored
and queued but never run; the budget per operation is small to keep the suite fast. The
closing notes give the longer ``st run --checks all`` command.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from serving import start_server

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("fuzz")
    (workdir / "data").mkdir()
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}",
                          {"SAMPLERSEARCH_MAX_RUNNING_JOBS": "0", "SAMPLERSEARCH_API_TOKEN": TOKEN})
    yield server
    server.stop()


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_no_generated_request_gets_a_server_error(fuzz_server, mode: GenerationMode) -> None:
    # schemathesis' pytest plugin does not run on pytest 9, so each operation gets its own
    # hypothesis test here, from the strategy schemathesis builds for it.
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    calls: list[int] = []
    skipped: list[str] = []

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=True)
        def no_server_error(case) -> None:
            response = case.call(headers=AUTH, timeout=30)
            calls.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            no_server_error()
        except Unsatisfiable:  # an operation without parameters has no invalid input to generate
            assert mode is GenerationMode.NEGATIVE and not operation.path_parameters.items
            assert not operation.query.items and not operation.body.items
            skipped.append(operation.label)
    assert len(calls) >= len(operations) - len(skipped) and max(calls) < 500


def test_the_paused_controller_kept_every_fuzzed_job_queued(fuzz_server) -> None:
    jobs = fuzz_server.client(TOKEN).get("/jobs", params={"limit": 500}).json()
    assert {job["status"] for job in jobs["items"]} <= {"queued", "cancelled"}
