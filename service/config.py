"""All configuration in one place: environment variables prefixed ``SAMPLERSEARCH_``.

Nothing below ``service`` reads the environment: workers get paths and values as arguments
(:meth:`Settings.task_paths`), and job drivers get their settings from the controller
(:meth:`Settings.driver_environment`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.tasks import TaskPaths


def absolute_sqlite_url(url: str) -> str:
    """``url`` with a relative SQLite file made absolute (a driver runs in another directory)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:" or url.startswith(prefix + "/"):
        return url
    return prefix + str(Path(url.removeprefix(prefix)).resolve())


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache`` (absolute)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser().resolve()


class Settings(BaseSettings):
    """Service settings. Every field reads ``SAMPLERSEARCH_<FIELD>`` from the environment.

    Attributes:
        database_url: SQLAlchemy URL; SQLite file by default, ``postgresql+psycopg://...`` in production.
        data_dir: root of user data files (the ``arrays`` task refuses paths outside it).
        cache_dir: generated datasets and the shared-weights cache; by default the user's cache
            directory (``$XDG_CACHE_HOME/samplersearch``, else ``~/.cache/samplersearch``), the same
            wherever a command runs, so that no command retrains shared weights another already cached.
        results_dir: Ray Tune experiment storage (absolute path is derived from it).
        ray_address: the Ray cluster's Job API, i.e. its dashboard (``http://ray-head:8265``);
            ``None``: ``serve`` starts a local Ray head bound to loopback, and the CLI starts Ray
            in-process.
        ray_auth_token: the cluster's Ray token (also read from ``RAY_AUTH_TOKEN``); with a local
            Ray the controller generates one into ``ray_auth_token_file``.
        ray_auth_token_file: where a local Ray's token is kept (mode 0600).
        num_cpus: CPUs a local Ray instance declares (``None``: all of this machine's).
        controller_threads: torch threads of the job driver once its own training is done (GP
            fitting), pinned so that the controller does not compete with local trials.
        max_trials: upper bound accepted for a job's ``trials``.
        max_running_jobs: Ray jobs (job drivers) the REST controller runs at once; others wait queued.
            0 pauses dispatch (jobs are accepted and stay queued: maintenance, or an API fuzz).
        api_token: when set, every endpoint but ``/health`` requires ``Authorization: Bearer <token>``.
        dashboard_port: the local Ray head's dashboard (and Job API) port on 127.0.0.1; 0 picks a free one.
        dashboard_url: the dashboard URL users should open, when it differs from what Ray reports
            (e.g. behind a published container port); shown by ``serve`` and ``/health``.
        public_url: the service's own URL as users reach it, written into each Ray job's metadata
            so that the dashboard's job entry links to the service's trial view.
        log_level: Python logging level of the CLI, ``serve`` and job drivers.
        max_request_bytes: largest request body the REST API reads; larger ones get 413.
    """

    model_config = SettingsConfigDict(env_prefix="SAMPLERSEARCH_", populate_by_name=True)

    database_url: str = "sqlite:///./samplersearch.db"
    data_dir: Path = Path("data")
    cache_dir: Path = Field(default_factory=lambda: user_cache_dir() / "samplersearch")
    results_dir: Path = Path(".samplersearch/ray_results")
    ray_address: str | None = None
    ray_auth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SAMPLERSEARCH_RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN", "ray_auth_token"))
    ray_auth_token_file: Path = Path(".samplersearch/ray_auth_token")
    num_cpus: int | None = Field(default=None, ge=1)
    controller_threads: int = Field(default=1, ge=1)
    max_trials: int = Field(default=1000, ge=1)
    max_running_jobs: int = Field(default=4, ge=0)
    api_token: SecretStr | None = None
    dashboard_port: int = Field(default=8265, ge=0, le=65535)
    dashboard_url: str | None = None
    public_url: str | None = None
    log_level: str = "WARNING"
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("api_token", "ray_address", "dashboard_url", "public_url", "ray_auth_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ray_address")
    @classmethod
    def _job_api_url(cls, value: str | None) -> str | None:
        if value is None or "://" in value:
            return value
        return f"http://{value}"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return level

    def task_paths(self) -> TaskPaths:
        """The data and cache directories, absolute, as workers take them."""
        return TaskPaths(self.data_dir, self.cache_dir).resolved()

    def driver_environment(self) -> dict[str, str]:
        """The ``SAMPLERSEARCH_*`` variables a job driver started elsewhere needs to see these
        settings (paths made absolute). Secrets other than the database URL are left out."""
        values = {
            "DATABASE_URL": absolute_sqlite_url(self.database_url), "DATA_DIR": str(self.data_dir.resolve()),
            "CACHE_DIR": str(self.cache_dir.resolve()), "RESULTS_DIR": str(self.results_dir.resolve()),
            "CONTROLLER_THREADS": str(self.controller_threads), "LOG_LEVEL": self.log_level,
        }
        if self.ray_address:
            values["RAY_ADDRESS"] = self.ray_address
        return {f"SAMPLERSEARCH_{name}": value for name, value in values.items()}
