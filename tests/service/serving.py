"""Start and stop real ``samplersearch serve`` processes for the HTTP tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class Server:
    """A running controller: its process, base URL, log file and working directory."""

    process: subprocess.Popen
    url: str
    log: Path
    workdir: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the controller alone, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class PortTaken(RuntimeError):
    """The port picked as free was bound by another process before the controller bound it."""


def start_server(workdir: Path, database_url: str, extra_env: dict[str, str] | None = None,
                 timeout: float = 90.0, attempts: int = 3) -> Server:
    """``samplersearch serve --port 0`` with its own cache and results dirs; waits for /health at
    the URL it prints.

    The local Ray head's dashboard port is probed free here, and can be taken before the head binds
    it, so a start that fails only because a port was taken is retried on a fresh one,
    ``attempts`` times in all. Any other failure raises at once.
    """
    for _ in range(attempts - 1):
        try:
            return _start_server_once(workdir, database_url, extra_env, timeout)
        except PortTaken:
            pass
    return _start_server_once(workdir, database_url, extra_env, timeout)


def _start_server_once(workdir: Path, database_url: str, extra_env: dict[str, str] | None,
                       timeout: float) -> Server:
    dashboard_port = free_port()
    log = workdir / f"serve-{time.time_ns()}.log"
    env = {**os.environ, "SAMPLERSEARCH_CACHE_DIR": str(workdir / "cache"),
           "SAMPLERSEARCH_RESULTS_DIR": str(workdir / "ray"), "SAMPLERSEARCH_DATA_DIR": str(workdir / "data"),
           "SAMPLERSEARCH_NUM_CPUS": "2", "SAMPLERSEARCH_DASHBOARD_PORT": str(dashboard_port),
           **(extra_env or {})}
    with open(log, "ab") as handle:  # --port 0: the controller binds a free port and prints its URL
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", "0", "--db", database_url],
            cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            taken = "address already in use" in tail or "(the Ray dashboard of a local Ray) is in use" in tail
            error = PortTaken if taken else RuntimeError
            raise error(f"server exited with {process.returncode}:\n{tail}")
        if url is None and (printed := re.search(r"samplersearch: API (http://[^\s,]+),", log.read_text())):
            url = printed.group(1)
        try:
            if url is not None and httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return Server(process, url, log, workdir)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    Server(process, url or "", log, workdir).stop()
    raise RuntimeError(f"server did not answer /health within {timeout} s:\n{log.read_text()[-3000:]}")


def wait_for(client: httpx.Client, job_id: int, predicate, timeout: float = 180.0) -> dict:
    """Poll ``GET /jobs/{id}`` until ``predicate(job)`` holds; returns that job."""
    deadline = time.monotonic() + timeout
    job = {}
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if predicate(job):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not reach the expected state in {timeout} s: {job}")


def finished(job: dict) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")
