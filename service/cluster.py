"""The one way this service reaches Ray, and the one check of what a job asks of it.

Two roles:

- A **job driver** (a Ray job submitted by the controller, or the CLI's own process) calls
  :func:`connect_driver`: inside a Ray job it joins that job's cluster; elsewhere it starts a
  private Ray in-process.
- The **controller** (``serve``) never becomes a Ray driver, so it does not show up as a job in
  the dashboard. It talks to the cluster's Job API over HTTP (:class:`RayCluster`): a cluster
  named by ``ray_address``, or a local head it starts itself (:func:`start_local_head`).

Security: every Ray started here runs with Ray's token authentication (``RAY_AUTH_MODE=token``),
binds what Ray lets bind to loopback (node IP, dashboard, agents), and keeps its token in a file
of mode 0600. Ray's GCS, raylet and worker gRPC servers still listen on every interface, so the
token is what protects them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from service.config import Settings
from service.spec import Resources

logger = logging.getLogger(__name__)

#: set by Ray's job supervisor in a submitted job's environment
RAY_JOB_ENV_VARIABLE = "RAY_JOB_CONFIG_JSON_ENV_VAR"
LOOPBACK = "127.0.0.1"
#: Ray turns a loopback node IP into the machine's address (so that other nodes could join) unless
#: multi-node clusters are off; off, a single-node Ray puts its node, its agents and its metrics
#: servers on 127.0.0.1. Ray's name for the switch speaks of Windows and macOS, but it holds on Linux.
SINGLE_NODE_ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
#: a head that gets SIGTERM (its controller ended) drains for 30 s by default; its jobs are ended anyway
SHUTDOWN_ENVIRONMENT = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "3", "RAY_gcs_rpc_server_reconnect_timeout_s": "5"}


class InsufficientResourcesError(RuntimeError):
    """A job asks for more CPUs or GPUs per trial than the Ray cluster has.

    Attributes:
        field: the spec field at fault, e.g. ``resources.gpu``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RayStartError(RuntimeError):
    """The local Ray head could not be started; the message says what to change."""


def check_resources(requested: Resources, available: Mapping[str, float]) -> None:
    """Fail fast when one trial asks for more than the cluster has (Tune would wait forever)."""
    gpus, cpus = float(available.get("GPU", 0.0)), float(available.get("CPU", 0.0))
    if requested.gpu > 0 and gpus < requested.gpu:
        raise InsufficientResourcesError(
            "resources.gpu", f"the Ray cluster has {gpus:g} GPUs; this job asks {requested.gpu:g} per trial "
            "(use 0, or a cluster with GPU workers)")
    if cpus < requested.cpu:
        raise InsufficientResourcesError(
            "resources.cpu", f"the Ray cluster has {cpus:g} CPUs; this job asks {requested.cpu:g} per trial")


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Raise ``ConnectionError`` at once when nothing accepts TCP connections at ``address``
    (``host:port`` or ``http://host:port``); Ray's own clients wait minutes on a dead address."""
    host, separator, port = address.split("://", 1)[-1].split("/", 1)[0].rpartition(":")
    if not separator or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ConnectionError(f"no Ray cluster answers at {address}: {error}") from None


# Tokens


def local_token(path: Path) -> str:
    """The local Ray's token in ``path``: created (random, mode 0600) when absent; an existing
    file is tightened to 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return path.read_text().strip()


def token_environment(token_file: Path) -> dict[str, str]:
    """Environment that makes a Ray process use token auth with the token in ``token_file``
    (Ray then writes no token file of its own)."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file.resolve())}


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Drivers


def in_ray_job() -> bool:
    """True inside a job submitted through Ray's Job API."""
    return RAY_JOB_ENV_VARIABLE in os.environ


def connect_driver(settings: Settings) -> None:
    """Make this process a Ray driver: join the cluster of the Ray job it runs in, or start a
    private local Ray (CLI), with token auth and its node bound to loopback. No dashboard."""
    import ray

    if ray.is_initialized():
        return
    if in_ray_job():
        ray.init(log_to_driver=False, logging_level=logging.WARNING)
        # ``ray job stop`` (the API's cancel) sends SIGTERM: end at once, as a cancelled job must
        # (Ray's own handler would let Tune wind down its trials first). Ray then reports STOPPED.
        signal.signal(signal.SIGTERM, lambda _signal, _frame: os._exit(128 + signal.SIGTERM))
        return
    # Ray reads its auth and network settings from the environment of the process that starts it,
    # and caches its config once read: refresh it the way Ray's own token setup does.
    local_token(settings.ray_auth_token_file)
    os.environ.update({**token_environment(settings.ray_auth_token_file), **SINGLE_NODE_ENVIRONMENT})
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    # address="local" always starts a new instance, even if another Ray runs on this machine; a
    # temp dir of its own keeps it from overwriting the "current cluster" other Rays here resolve.
    temp_dir = private_temp_dir()
    atexit.register(shutil.rmtree, temp_dir, ignore_errors=True)  # runs after Ray's own shutdown
    ray.init(address="local", num_cpus=settings.num_cpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING, _node_ip_address=LOOPBACK, _temp_dir=temp_dir)


def private_temp_dir() -> str:
    """A new, short temp dir for one Ray instance (its unix sockets live there: paths must stay
    well under 108 bytes).

    Ray records the address of "the current cluster" in its temp dir, and a Ray job's driver is
    pointed at the address recorded there. Two Rays sharing the default ``/tmp/ray`` on one
    machine (two ``serve``s, a ``serve`` and a CLI run, or a user's own Ray) would send each other's
    drivers to the wrong cluster."""
    return tempfile.mkdtemp(prefix="samplersearch-ray-", dir="/tmp")


def driver_cluster_resources() -> dict[str, float]:
    """Total resources of the cluster this driver is connected to."""
    import ray

    return dict(ray.cluster_resources())


# The controller's view of a cluster


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback now (held open together, so none repeats)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [probe.getsockname()[1] for probe in probes]


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this process when its parent (the controller) dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


@dataclass
class LocalRayHead:
    """A local head (``service.local_head``), child of the controller; it ends with the controller."""

    process: subprocess.Popen
    dashboard_url: str
    token: str
    log_path: Path
    temp_dir: str

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the head (it stops its jobs first, then Ray shuts down cleanly), then SIGKILL
        its process group if it is still there."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


_HEAD_PORTS = ("port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
               "runtime-env-agent-port", "node-manager-port", "object-manager-port", "ray-client-server-port")


def check_dashboard_port(port: int) -> None:
    """Raise :class:`RayStartError` naming the fix when a local head's dashboard ``port`` is taken
    (0 means any free port and is never taken)."""
    if port and _port_taken(port):
        raise RayStartError(f"port {port} (the Ray dashboard of a local Ray) is in use, probably by another "
                            "samplersearch serve or Ray; pass --dashboard-port with a free port, or 0 for any free one")


def local_head_command(settings: Settings, dashboard_port: int, ports: list[int], temp_dir: str) -> list[str]:
    """The command line of a local head (``service.local_head`` around ``ray start --head --block``):
    loopback for the node and every HTTP server, a distinct free port for every other server
    (several heads can share a host)."""
    token_file = str(settings.ray_auth_token_file.resolve())
    command = [sys.executable, "-m", "service.local_head", f"http://{LOOPBACK}:{dashboard_port}", token_file, "--",
               "--head", "--block", "--disable-usage-stats", f"--temp-dir={temp_dir}",
               f"--node-ip-address={LOOPBACK}", f"--dashboard-host={LOOPBACK}", f"--dashboard-port={dashboard_port}",
               *(f"--{name}={port}" for name, port in zip(_HEAD_PORTS, ports, strict=True))]
    if settings.num_cpus is not None:
        command.append(f"--num-cpus={settings.num_cpus}")
    return command


def start_local_head(settings: Settings, timeout_s: float = 120.0) -> LocalRayHead:
    """Start a local Ray head for the controller and wait until its Job API answers.

    Raises :class:`RayStartError` naming the fix when the dashboard port is taken or Ray does not
    come up."""
    check_dashboard_port(settings.dashboard_port)
    port = settings.dashboard_port or free_port()
    token = local_token(settings.ray_auth_token_file)
    log_path = settings.ray_auth_token_file.resolve().parent / "ray-head.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    *ports, metrics_port = [p for p in free_ports(len(_HEAD_PORTS) + 2) if p != port][: len(_HEAD_PORTS) + 1]
    environment = {**os.environ, **token_environment(settings.ray_auth_token_file), **SINGLE_NODE_ENVIRONMENT,
                   **SHUTDOWN_ENVIRONMENT, "RAY_AIR_NEW_OUTPUT": "0",
                   # its default (44227) would collide between two heads on one host
                   "DASHBOARD_METRIC_PORT": str(metrics_port)}
    with open(log_path, "ab") as log:
        temp_dir = private_temp_dir()
        process = subprocess.Popen(local_head_command(settings, port, ports, temp_dir), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=environment, preexec_fn=_die_with_parent)
    head = LocalRayHead(process, f"http://{LOOPBACK}:{port}", token, log_path, temp_dir)
    probe = RayCluster(head.dashboard_url, token, head.dashboard_url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            head.stop()
            raise RayStartError(f"the local Ray head exited with code {process.returncode}; see {log_path}")
        if probe.healthy():  # the Job API answers and the node has registered its CPUs
            return head
        time.sleep(0.5)
    head.stop()
    raise RayStartError(f"the local Ray head did not answer within {timeout_s:.0f} s; see {log_path}")


@dataclass
class RayCluster:
    """What the controller knows of its Ray cluster: the Job API URL and the token.

    Attributes:
        jobs_url: the dashboard / Job API, e.g. ``http://127.0.0.1:8265``.
        token: Ray's auth token (``None`` for a cluster without token auth).
        dashboard_url: the dashboard URL shown to users.
        head: the local head this controller started, if any.
    """

    jobs_url: str
    token: str | None
    dashboard_url: str | None
    head: LocalRayHead | None = None
    _client: Any = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(self.token) if self.token else {}

    def jobs(self) -> Any:
        """Ray's ``JobSubmissionClient`` for this cluster (created once)."""
        if self._client is None:
            from ray.job_submission import JobSubmissionClient

            self._client = JobSubmissionClient(self.jobs_url, headers=self.headers)
        return self._client

    def resources(self) -> dict[str, float]:
        """Total resources of the cluster's alive nodes (from the dashboard's state API)."""
        response = requests.get(f"{self.jobs_url}/api/v0/nodes", params={"detail": "1", "limit": "10000"},
                                headers=self.headers, timeout=10)
        response.raise_for_status()
        totals: dict[str, float] = {}
        for node in response.json()["data"]["result"]["result"]:
            if node.get("state") != "ALIVE":
                continue
            for name, amount in (node.get("resources_total") or {}).items():
                totals[name] = totals.get(name, 0.0) + float(amount)
        return totals

    def healthy(self) -> bool:
        try:
            return self.resources().get("CPU", 0.0) > 0
        except (requests.RequestException, KeyError, ValueError):
            return False

    def close(self) -> None:
        if self.head is not None:
            self.head.stop()


def open_cluster(settings: Settings) -> RayCluster:
    """The controller's cluster: ``settings.ray_address`` (checked to answer), or a new local head."""
    if settings.ray_address is None:
        head = start_local_head(settings)
        return RayCluster(head.dashboard_url, head.token, settings.dashboard_url or head.dashboard_url, head)
    check_reachable(settings.ray_address)
    token = settings.ray_auth_token.get_secret_value() if settings.ray_auth_token else None
    cluster = RayCluster(settings.ray_address, token, settings.dashboard_url or settings.ray_address)
    response = requests.get(f"{settings.ray_address}/api/version", headers=cluster.headers, timeout=10)
    if response.status_code in (401, 403):
        raise ConnectionError(f"the Ray cluster at {settings.ray_address} refused the token ({response.status_code}); "
                              "set SAMPLERSEARCH_RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN) to the cluster's token")
    response.raise_for_status()
    return cluster
