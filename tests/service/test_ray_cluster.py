"""A real multi-process Ray cluster with token authentication: a head without GPUs (its
dashboard is the Job API the service submits to) and a worker node declaring a logical GPU. A job
asking for half a GPU per trial must run as a Ray job with every trial on the worker node."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serving import finished, free_port, free_ports, start_server, wait_for

# One token shared by every node through the environment, as the compose file does.
CLUSTER_TOKEN = "multi-node-test-" + os.urandom(16).hex()
CLUSTER_ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": CLUSTER_TOKEN}
CLUSTER_ENV.pop("RAY_AUTH_TOKEN_PATH", None)


def ray_node(arguments: list[str], log: Path) -> subprocess.Popen:
    """``ray start ... --block`` in its own session, so that it can be stopped with its children."""
    with open(log, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *arguments],
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, env=CLUSTER_ENV)


def stop_node(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def node_ids(address: str) -> dict[str, dict]:
    """Alive nodes of the cluster, by node id, with their resources (asked from a separate driver);
    empty while the cluster does not answer."""
    script = ("import json, ray; ray.init(address=%r, log_to_driver=False); "
              "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))") % address
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=CLUSTER_ENV)
    if output.returncode != 0:
        return {}  # the head is not answering yet
    return json.loads(output.stdout.strip().splitlines()[-1])


_WORKER_PORT_BASE = 20000 + (os.getpid() % 40) * 250


def node_ports(slot: int) -> list[str]:
    """Distinct ports for each node on this one machine (Ray's defaults would collide).
    Worker ports come from a range below the kernel's ephemeral ports, one block per node."""
    low = _WORKER_PORT_BASE + 120 * slot
    ports = free_ports(6)
    return [f"--node-manager-port={ports[0]}", f"--object-manager-port={ports[1]}",
            f"--metrics-export-port={ports[2]}", f"--dashboard-agent-listen-port={ports[3]}",
            f"--dashboard-agent-grpc-port={ports[4]}", f"--runtime-env-agent-port={ports[5]}",
            f"--min-worker-port={low}", f"--max-worker-port={low + 100}"]


def wait_for_nodes(address: str, count: int, timeout: float = 90) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    nodes: dict[str, dict] = {}
    while time.monotonic() < deadline:
        nodes = node_ids(address)
        if len(nodes) >= count:
            return nodes
        time.sleep(1)
    raise AssertionError(f"cluster has {len(nodes)} nodes, expected {count}")


def test_gpu_trials_run_on_the_gpu_node_and_a_new_controller_reattaches_to_running_jobs(tmp_path) -> None:
    from service.cluster import open_cluster
    from service.config import Settings

    port, dashboard = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    head = ray_node(["--head", f"--port={port}", "--num-cpus=1", "--num-gpus=0", "--dashboard-host=127.0.0.1",
                     f"--dashboard-port={dashboard}", f"--ray-client-server-port={free_port()}", *node_ports(0)],
                    tmp_path / "head.log")
    worker = None
    server = None
    try:
        wait_for_nodes(address, 1)
        worker = ray_node([f"--address={address}", "--num-cpus=2", "--num-gpus=1", *node_ports(1)], tmp_path / "worker.log")
        nodes = wait_for_nodes(address, 2)
        gpu_nodes = [node for node, resources in nodes.items() if resources.get("GPU", 0) >= 1]
        assert len(gpu_nodes) == 1
        jobs_url = f"http://127.0.0.1:{dashboard}"
        with pytest.raises(ConnectionError, match="refused the token"):
            open_cluster(Settings(ray_address=jobs_url, ray_auth_token="wrong"))
        server = start_server(tmp_path, f"sqlite:///{tmp_path / 'jobs.db'}", {"SAMPLERSEARCH_RAY_ADDRESS": jobs_url,
                                                                              "RAY_AUTH_TOKEN": CLUSTER_TOKEN})
        client = server.client()
        assert client.get("/health").json()["ray_address"] == jobs_url
        response = client.post("/jobs", json={"task": {"name": "digits"},
                                              "search": {"trials": 3, "initial": 2, "parallel": 2},
                                              "resources": {"cpu": 1, "gpu": 0.5}})
        assert response.status_code == 201, response.text
        job = wait_for(client, response.json()["id"], finished, timeout=240)
        assert job["status"] == "succeeded", job["error"]
        assert job["links"]["ray_submission_id"] == f"samplersearch-job-{job['id']}"
        trials = client.get(f"/jobs/{job['id']}/trials").json()
        assert len(trials) == 3
        assert {t["worker_node"] for t in trials} == set(gpu_nodes)
        assert {t["device"] for t in trials} == {"cpu"}  # a logical GPU: torch has no CUDA here

        # A controller that dies leaves its Ray job running on the cluster; the next one re-attaches
        # to it instead of submitting the job again.
        longer = client.post("/jobs", json={"task": {"name": "digits"},
                                            "search": {"trials": 20, "initial": 2, "parallel": 1}}).json()
        wait_for(client, longer["id"], lambda j: j["status"] == "running" and j["trials_done"] >= 1, timeout=240)
        server.kill()
        server = start_server(tmp_path, f"sqlite:///{tmp_path / 'jobs.db'}", {"SAMPLERSEARCH_RAY_ADDRESS": jobs_url,
                                                                              "RAY_AUTH_TOKEN": CLUSTER_TOKEN})
        client = server.client()
        assert longer["id"] in client.get("/health").json()["running_jobs"]
        done = wait_for(client, longer["id"], finished, timeout=240)
        assert done["status"] == "succeeded", done["error"]
        assert done["links"]["ray_submission_id"] == f"samplersearch-job-{longer['id']}"
        assert [t["index"] for t in client.get(f"/jobs/{longer['id']}/trials").json()] == list(range(20))
        from ray.job_submission import JobSubmissionClient

        submitted = [job.submission_id for job in JobSubmissionClient(  # the test's own node probes have none
            jobs_url, headers={"Authorization": f"Bearer {CLUSTER_TOKEN}"}).list_jobs() if job.submission_id]
        assert sorted(submitted) == sorted([f"samplersearch-job-{job['id']}", f"samplersearch-job-{longer['id']}"])
    finally:
        if server is not None:
            server.stop()
        for node in (worker, head):
            if node is not None:
                stop_node(node)


def test_a_dead_ray_address_fails_at_once_with_the_address() -> None:
    from service.cluster import open_cluster
    from service.config import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"  # bound, not listening: connections are refused
        started = time.monotonic()
        with pytest.raises(ConnectionError, match=f"no Ray cluster answers at http://{dead}"):
            open_cluster(Settings(ray_address=dead))
    assert time.monotonic() - started < 5
