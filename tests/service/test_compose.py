"""docker-compose.yml: valid against the Compose specification and consistent with the CLI."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from service.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_the_four_services(compose: dict) -> None:
    assert set(compose["services"]) == {"postgres", "ray-head", "ray-gpu-worker", "api"}


def test_gpu_workers_reserve_nvidia_gpus(compose: dict) -> None:
    devices = compose["services"]["ray-gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]


def test_every_ray_node_runs_the_project_image_with_token_auth_and_one_shared_token(compose: dict) -> None:
    for name in ("ray-head", "ray-gpu-worker", "api"):
        service = compose["services"][name]
        assert service["image"] == "${SAMPLERSEARCH_IMAGE:-samplersearch:latest}", name
        assert service["environment"]["RAY_AUTH_MODE"] == "token", name
        assert service["environment"]["RAY_AUTH_TOKEN"].startswith("${RAY_AUTH_TOKEN:?"), name
    assert "disabled" not in COMPOSE.read_text()


def test_only_loopback_ports_are_published(compose: dict) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_the_head_runs_the_drivers_and_no_trials(compose: dict) -> None:
    head = compose["services"]["ray-head"]["command"]
    assert "--head" in head and "--port=6379" in head and "--num-cpus=0" in head and "--num-gpus=0" in head


def test_workers_join_the_head(compose: dict) -> None:
    assert "--address=ray-head:6379" in compose["services"]["ray-gpu-worker"]["command"]


def _serve_options() -> set[str]:
    serve = typer.main.get_command(app).commands["serve"]
    return {option for param in serve.params for option in getattr(param, "opts", [])}


def test_api_is_no_ray_node_and_serves_with_the_heads_job_api(compose: dict) -> None:
    command = compose["services"]["api"]["command"]
    assert command[:2] == ["samplersearch", "serve"] and "ray" not in command
    options = {item.split("=", 1)[0] for item in command[2:]}
    assert options <= _serve_options()
    values = dict(item.split("=", 1) for item in command[2:])
    assert values["--ray-address"] == "http://ray-head:8265"
    assert values["--db"].startswith("postgresql+psycopg://") and "@postgres:5432/" in values["--db"]


def test_api_waits_for_healthy_postgres_and_head(compose: dict) -> None:
    depends = compose["services"]["api"]["depends_on"]
    assert depends == {"postgres": {"condition": "service_healthy"}, "ray-head": {"condition": "service_healthy"}}
    for service in ("postgres", "ray-head"):
        assert "healthcheck" in compose["services"][service]


def test_every_variable_of_the_env_example_is_used_by_compose_or_the_dockerfile() -> None:
    example = ROOT / ".env.example"
    names = [line.split("=", 1)[0] for line in example.read_text().splitlines() if line and not line.startswith("#")]
    used = COMPOSE.read_text() + (ROOT / "Dockerfile").read_text()
    assert names and all(name in used for name in names)


def test_dockerfile_selects_its_base_image_by_build_argument() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=" in dockerfile and "FROM ${BASE_IMAGE}" in dockerfile
    assert shlex.split(dockerfile.splitlines()[-1].removeprefix("CMD "))  # a parseable default command
