"""Shared fixtures: one Ray instance for the whole run, and SQL stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_URL = os.environ.get("SAMPLERSEARCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_LIBPQ_URL = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")  # the same server, as psycopg takes it


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray with 2 CPUs, started once per test run (about 5 s) the way a CLI driver starts
    it (``connect_driver``: token auth, its token in a 0600 file of its own)."""
    import ray

    from service.cluster import connect_driver
    from service.config import Settings

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    connect_driver(Settings(num_cpus=2, ray_auth_token_file=tmp_path_factory.mktemp("ray-auth") / "token"))
    yield
    ray.shutdown()


def _postgres_schema_url() -> tuple[str, str] | None:
    """A fresh schema on the local PostgreSQL server, or None when none is reachable."""
    try:
        import psycopg
    except ImportError:
        return None
    schema = f"samplersearch_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_LIBPQ_URL, connect_timeout=3, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError:
        return None
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(_LIBPQ_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sql_ascii_postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database with the legacy ``SQL_ASCII`` encoding, dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    name = f"samplersearch_ascii_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_LIBPQ_URL, connect_timeout=3, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
                               "LC_COLLATE 'C' LC_CTYPE 'C'")
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(_LIBPQ_URL, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway schema on the local PostgreSQL server, dropped afterwards."""
    created = _postgres_schema_url()
    if created is None:
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL}")
    schema, url = created
    try:
        yield url
    finally:
        _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database: a SQLite file, or a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
