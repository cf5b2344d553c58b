"""All configuration in one place: environment variables prefixed ``SAMPLERSEARCH_``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings. Every field reads ``SAMPLERSEARCH_<FIELD>`` from the environment.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file by default, ``postgresql+psycopg://...`` in production.
        data_dir: root of user data files (the ``arrays`` task refuses paths outside it).
        cache_dir: shared-weights cache.
        results_dir: Ray Tune experiment storage (absolute path is derived from it).
        ray_address: join this Ray cluster; ``None`` starts a local Ray in-process.
        num_cpus: CPUs a local Ray instance declares (``None``: all of this machine's).
        controller_threads: torch threads of the controller (GP fitting), pinned so that the
            controller does not compete with local trials.
        max_trials: upper bound accepted for a job's ``trials``.
        max_running_jobs: job drivers the REST controller runs at once (others wait queued).
        api_token: when set, every endpoint but ``/health`` requires ``Authorization: Bearer <token>``.
        dashboard: start the Ray dashboard with a local Ray instance (needs ``ray[default]``).
        dashboard_port: its port on 127.0.0.1.
        dashboard_url: the dashboard URL users should open, when it differs from what Ray reports
            (e.g. behind a published container port); shown by ``serve`` and ``/health``.
    """

    model_config = SettingsConfigDict(env_prefix="SAMPLERSEARCH_")

    database_url: str = "sqlite:///./samplersearch.db"
    data_dir: Path = Path("data")
    cache_dir: Path = Path(".samplersearch/cache")
    results_dir: Path = Path(".samplersearch/ray_results")
    ray_address: str | None = None
    num_cpus: int | None = Field(default=None, ge=1)
    controller_threads: int = Field(default=1, ge=1)
    max_trials: int = Field(default=1000, ge=1)
    max_running_jobs: int = Field(default=4, ge=1)
    api_token: SecretStr | None = None
    dashboard: bool = True
    dashboard_port: int = Field(default=8265, ge=0, le=65535)
    dashboard_url: str | None = None

    @field_validator("api_token", "ray_address", "dashboard_url", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value
