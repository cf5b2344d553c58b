"""The REST controller over real HTTP: a real `samplersearch serve` process, real Ray, real SQL."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import httpx
import psutil
import pytest
from malformed_arrays import MALFORMED_ARRAYS
from ray_probe import http_status, is_loopback, refuses_unauthenticated

from sampler_space import sampler_from_document
from serving import Server, finished, start_server, wait_for

SMALL_JOB = {"task": {"name": "digits", "label_noise": 0.2}, "search": {"trials": 4, "initial": 2, "parallel": 2}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("serve")
    (workdir / "data").mkdir()
    # HOME is the work directory, so that a token file Ray might write of its own would show.
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}", {"SAMPLERSEARCH_MAX_TRIALS": "50",
                                                                        "HOME": str(workdir)})
    yield server
    server.stop()


def ray_token(server: Server) -> str:
    return (server.workdir / ".samplersearch" / "ray_auth_token").read_text().strip()


def ray_jobs_client(server: Server):
    from ray.job_submission import JobSubmissionClient

    dashboard = server.client().get("/health").json()["ray_dashboard"]
    return JobSubmissionClient(dashboard, headers={"Authorization": f"Bearer {ray_token(server)}"})


def driver_processes(job_id: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "service.driver" in cmdline and str(job_id) in cmdline:
            found.append(process)
    return found


def test_health_reports_database_ray_and_dashboard(server: Server) -> None:
    health = server.client().get("/health").json()
    assert health["status"] == "ok" and health["database"] and health["ray"]
    assert health["ray_dashboard"].startswith("http://127.0.0.1:")


def test_submitted_job_runs_to_success_with_trials_and_sampler(server: Server) -> None:
    client = server.client()
    response = client.post("/jobs", json=SMALL_JOB)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "queued" and job["spec"]["search"]["searcher"] == "gp-ucb"
    assert job["spec"]["resources"] == {"cpu": 1.0, "gpu": 0.0} and job["trials_total"] == 4

    job = wait_for(client, job["id"], finished)
    assert job["status"] == "succeeded", job["error"]
    assert job["trials_done"] == 4 and job["best_trial"]["metric"] > 0.1
    assert job["links"]["tune_experiment"] == f"samplersearch-job-{job['id']}"

    trials = client.get(f"/jobs/{job['id']}/trials").json()
    assert [t["index"] for t in trials] == [0, 1, 2, 3] and all(t["status"] == "succeeded" for t in trials)
    assert client.get(f"/jobs/{job['id']}/trials/2").json()["index"] == 2

    document = client.get(f"/jobs/{job['id']}/sampler").json()
    assert document["source"]["trial_id"] == job["recommendation"]["trial"]
    assert document["source"]["recommended"] == job["recommendation"]["choice"]
    assert sampler_from_document(document).knots.shape == (2, 5)
    assert client.get(f"/jobs/{job['id']}/sampler", params={"trial": 1}).json()["source"]["trial_id"] == 1

    listed = client.get("/jobs", params={"status": "succeeded"}).json()
    assert job["id"] in [j["id"] for j in listed["items"]] and listed["total"] >= 1
    assert job["report"] is None  # the report stage is asked for in the spec, and this job did not


def test_a_search_job_with_a_report_serves_its_weights_reference_model_and_gain(server: Server) -> None:
    import io

    import numpy as np
    import torch

    from workers.reference_model import load_reference_model

    client = server.client()
    body = {**SMALL_JOB, "search": {**SMALL_JOB["search"], "trials": 3}, "report": {"scratch": True, "seeds": 2,
                                                                                   "epochs": 5}}
    job = wait_for(client, client.post("/jobs", json=body).json()["id"], finished)
    assert job["status"] == "succeeded", job["error"]
    report = job["report"]
    assert report["status"] == "done" and report["seeds"] == 2 and report["epochs"] == 5
    assert report["best_trial"] == job["recommendation"]["trial"] and report["data_seed"] == 0
    assert sorted((r["sampler"], r["seed"]) for r in report["runs"]) == [("best", 0), ("best", 1),
                                                                          ("uniform", 0), ("uniform", 1)]
    assert report["gain"] == pytest.approx(report["best"]["test_accuracy_mean"]
                                           - report["uniform"]["test_accuracy_mean"])
    assert all(r["data_seed"] == 0 and r["epochs"] == 5 for r in report["runs"])

    assert job["links"]["weights"] == f"/jobs/{job['id']}/weights"
    response = client.get(job["links"]["weights"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-npy"
    weights = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert weights.shape == (1348,) and weights.dtype == np.float32 and (weights > 0).all()  # digits' training split
    response = client.get(job["links"]["reference_model"])
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    model = load_reference_model(response.content)
    assert model.task["name"] == "digits" and model.task["label_noise"] == 0.2
    assert model(torch.zeros(3, 64)).shape == (3, 10)


def test_artifacts_of_jobs_that_have_none_are_409_naming_why(server: Server) -> None:
    client = server.client()
    strategy = client.post("/jobs", json={"kind": "strategy", "task": {"name": "digits"},
                                          "strategy": {"name": "uniform"}, "run": {"seeds": 1, "epochs": 1}}).json()
    for name in ("weights", "reference-model"):
        response = client.get(f"/jobs/{strategy['id']}/{name}")
        assert response.status_code == 409 and "only search jobs" in response.json()["detail"]
    assert client.get("/jobs/999999/weights").status_code == 404
    wait_for(client, strategy["id"], finished)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": {"name": "cifar"}}, ["body", "task", "name"]),
        ({"task": {"name": "digits", "label_noise": -0.1}}, ["body", "task", "label_noise"]),
        ({"task": {"name": "digits"}, "search": {"trials": 0}}, ["body", "search", "trials"]),
        ({"task": {"name": "digits"}, "search": {"trials": 51}}, ["body", "search", "trials"]),
        ({"task": {"name": "digits"}, "search": {"searcher": "grid"}}, ["body", "search", "searcher"]),
        ({"task": {"name": "digits"}, "resources": {"gpu": 1}}, ["body", "resources", "gpu"]),
        ({"task": {"name": "arrays", "data": "../../etc/passwd"}}, ["body", "task", "data"]),
        ({"task": {"name": "digits"}, "surprise": 1}, ["body", "surprise"]),
        ({}, ["body", "task"]),
        ({"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "fancy"}}, ["body", "strategy", "name"]),
        ({"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "nws", "options": {"rate": 2}}},
         ["body", "strategy"]),
        ({"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "nws"}, "run": {"seeds": 0}},
         ["body", "run", "seeds"]),
        ({"task": {"name": "digits", "label_noise": float("nan")}}, ["body", "task", "label_noise"]),
        ({"task": {"name": "digits", "imbalance": float("inf")}}, ["body", "task", "imbalance"]),
        ({"task": {"name": "digits"}, "search": {"ucb_beta": float("nan")}}, ["body", "search", "ucb_beta"]),
        ({"task": {"name": "digits"}, "search": {"epsilon": float("inf")}}, ["body", "search", "epsilon"]),
        ({"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "nws", "options": {"rate": float("nan")}}},
         ["body", "strategy", "options"]),
        ({"task": {"name": "digits"}, "search": {"trials": True}}, ["body", "search", "trials"]),
        ({"task": {"name": "digits"}, "search": {"seed": 10**30}}, ["body", "search", "seed"]),
        ({"task": {"name": "digits"}, "search": {"fine_tune_epochs": 10**9}}, ["body", "search", "fine_tune_epochs"]),
        ({"task": {"name": "digits"}, "search": {"fine_tune_lr": 0}}, ["body", "search", "fine_tune_lr"]),
        ({"task": {"name": "digits"}, "resources": {"cpu": 1e-300}}, ["body", "resources", "cpu"]),
        ({"task": {"name": "arrays", "data": "a\u0000b.npz"}}, ["body", "task", "data"]),
        ({"task": {"name": "arrays", "data": "x" * 300}}, ["body", "task", "data"]),
        ({"task": {"name": "digits", "data": "mine.npz"}}, ["body", "task"]),
        ({"task": {"name": "digits"}, "resources": {"gpu": False}}, ["body", "resources", "gpu"]),
        ({"task": {"name": "digits"}, "search": {"trials": "4"}}, ["body", "search", "trials"]),
        ({"task": {"name": "digits"}, "search": {"trials": 4.5}}, ["body", "search", "trials"]),
        ({"task": {"name": "digits"}, "search": {"warm_start": [2**31 - 2]}}, ["body", "search", "warm_start"]),
        ({"task": {"name": "digits"}, "search": {"warm_start": [3, 3]}}, ["body", "search", "warm_start"]),
    ],
    ids=["unknown-task", "negative-noise", "zero-trials", "over-max-trials", "unknown-searcher",
         "gpu-on-gpu-less-cluster", "data-outside-data-dir", "unknown-field", "missing-task", "unknown-strategy",
         "bad-strategy-option", "zero-seeds", "nan-noise", "infinite-imbalance", "nan-beta", "infinite-epsilon",
         "nan-strategy-option", "bool-trials", "huge-seed", "huge-epochs", "zero-fine-tune-lr",
         "cpu-below-ray-granularity", "nul-in-data",
         "long-data-name", "data-for-a-task-without-data", "bool-gpu", "string-trials", "fractional-trials",
         "warm-start-from-a-missing-job", "warm-start-twice-from-one-job"],
)
def test_bad_job_bodies_get_422_naming_the_field(server: Server, body: dict, field: list[str]) -> None:
    # json.dumps writes NaN and Infinity as JavaScript does; a careless client sends exactly that.
    response = server.client().post("/jobs", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in [error["loc"] for error in response.json()["detail"]], response.text


@pytest.mark.parametrize("case", sorted(MALFORMED_ARRAYS))
def test_malformed_data_files_get_422_with_one_sentence_and_no_job(server: Server, case: str) -> None:
    write, phrase = MALFORMED_ARRAYS[case]
    write(server.workdir / "data" / f"{case}.npz")
    client = server.client()
    before = client.get("/jobs").json()["total"]
    for body in ({"task": {"name": "arrays", "data": f"{case}.npz"}},
                 {"kind": "strategy", "task": {"name": "arrays", "data": f"{case}.npz"}, "strategy": {"name": "uniform"}}):
        response = client.post("/jobs", json=body)
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "task", "data"] and phrase in error["msg"] and "\n" not in error["msg"]
    assert client.get("/jobs").json()["total"] == before


def test_a_wrong_method_gets_405_listing_every_method_of_the_path(server: Server) -> None:
    client = server.client()
    assert client.request("OPTIONS", "/jobs").headers["allow"] == "GET, POST"
    assert client.delete("/jobs/1").headers["allow"] == "GET"


def test_the_schema_lists_the_registered_tasks_and_strategies(server: Server) -> None:
    schemas = server.client().get("/openapi.json").json()["components"]["schemas"]
    assert {"digits", "mnist1d", "arrays"} <= set(schemas["TaskConfig"]["properties"]["name"]["enum"])
    assert {"uniform", "nws", "swift"} <= set(schemas["StrategyConfig"]["properties"]["name"]["enum"])


def test_strategy_job_runs_over_http_and_has_no_sampler(server: Server) -> None:
    client = server.client()
    strategies = {s["name"]: s for s in client.get("/strategies").json()}
    assert {"uniform", "adaselection", "nws", "loss-gradient-is", "swift"} <= set(strategies)
    assert {"name": "rate", "default": 0.3}.items() <= strategies["nws"]["parameters"][0].items()
    response = client.post("/jobs", json={"kind": "strategy", "task": {"name": "digits"},
                                          "strategy": {"name": "big-loss"}, "run": {"seeds": 2, "epochs": 2}})
    assert response.status_code == 201, response.text
    job = wait_for(client, response.json()["id"], finished)
    assert job["status"] == "succeeded" and job["trials_total"] == 2 and job["trials_done"] == 2
    assert job["spec"]["strategy"] == {"name": "big-loss", "options": {}}
    trials = client.get(f"/jobs/{job['id']}/trials").json()
    assert [t["params"] for t in trials] == [{"seed": 0.0}, {"seed": 1.0}]
    assert "test_accuracy" in trials[0]["metrics"][-1]
    sampler = client.get(f"/jobs/{job['id']}/sampler")
    assert sampler.status_code == 409 and "strategy job" in sampler.json()["detail"]


def test_a_body_over_the_limit_is_413_without_an_echo_and_the_server_stays_responsive(server: Server) -> None:
    client = server.client()
    huge = b'{"task": {"name": "digits", "data": "' + b"x" * 2_000_000 + b'"}}'
    response = client.post("/jobs", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and len(response.content) < 1000
    chunks = (huge[i:i + 65536] for i in range(0, len(huge), 65536))  # no Content-Length: streamed
    streamed = client.post("/jobs", content=chunks, headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.get("/health").status_code == 200


def test_validation_errors_do_not_echo_the_input(server: Server) -> None:
    response = server.client().post("/jobs", json={"task": {"name": "digits"}, "search": {"features": ["f" * 50_000]}})
    assert response.status_code == 422 and len(response.content) < 2000
    assert all("input" not in error for error in response.json()["detail"])


def test_malformed_json_is_422_not_500(server: Server) -> None:
    response = server.client().post("/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_unknown_ids_are_404(server: Server) -> None:
    client = server.client()
    assert client.get("/jobs/999999").status_code == 404
    assert client.get("/jobs/999999/trials").status_code == 404
    assert client.get("/jobs/999999/sampler").status_code == 404
    assert client.post("/jobs/999999/cancel").status_code == 404


def test_bad_status_filter_is_422(server: Server) -> None:
    for value in ("sleeping", ""):
        response = server.client().get("/jobs", params={"status": value})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "status"]


@pytest.mark.parametrize(("method", "path", "location"), [
    ("GET", f"/jobs/{2**70}", ["path", "job_id"]),
    ("GET", f"/jobs/{2**40}/trials", ["path", "job_id"]),
    ("POST", f"/jobs/{2**64}/cancel", ["path", "job_id"]),
    ("GET", f"/jobs/1/trials/{2**40}", ["path", "index"]),
    ("GET", f"/jobs?offset={2**70}", ["query", "offset"]),
    ("GET", f"/jobs/1/sampler?trial={2**63}", ["query", "trial"]),
    ("GET", "/jobs/0", ["path", "job_id"]),
])
def test_ids_beyond_the_database_integers_are_422_not_500(server: Server, method: str, path: str,
                                                            location: list[str]) -> None:
    response = server.client().request(method, path)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == location


def test_openapi_declares_no_token_when_none_is_configured(server: Server) -> None:
    document = server.client().get("/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    assert "401" not in document["paths"]["/jobs"]["get"]["responses"]
    assert "404" in document["paths"]["/jobs/{job_id}"]["get"]["responses"]


def test_cancel_stops_a_running_job_within_seconds_and_keeps_finished_trials(server: Server) -> None:
    client = server.client()
    job = client.post("/jobs", json={"task": {"name": "digits"},
                                     "search": {"trials": 40, "initial": 3, "parallel": 1}}).json()
    assert client.get(f"/jobs/{job['id']}/sampler").status_code == 409
    wait_for(client, job["id"], lambda j: j["trials_done"] >= 2)
    started = time.monotonic()
    response = client.post(f"/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert time.monotonic() - started < 10
    kept = [t for t in client.get(f"/jobs/{job['id']}/trials").json() if t["status"] == "succeeded"]
    assert len(kept) >= 2
    time.sleep(2)
    assert driver_processes(job["id"]) == []
    after = client.get(f"/jobs/{job['id']}").json()
    assert after["status"] == "cancelled" and after["trials_done"] < 40
    assert {t["status"] for t in client.get(f"/jobs/{job['id']}/trials").json()} <= {"succeeded", "cancelled"}
    assert client.post(f"/jobs/{job['id']}/cancel").status_code == 409


def test_a_crashed_job_driver_fails_its_job_with_the_reason(server: Server) -> None:
    client = server.client()
    job = client.post("/jobs", json={"task": {"name": "digits"},
                                     "search": {"trials": 40, "initial": 3, "parallel": 1}}).json()
    wait_for(client, job["id"], lambda j: j["status"] == "running" and j["trials_done"] >= 1)
    for driver in driver_processes(job["id"]):
        driver.kill()
    failed = wait_for(client, job["id"], finished, timeout=30)
    assert failed["status"] == "failed", failed
    assert f"Ray job samplersearch-job-{job['id']}) ended FAILED" in failed["error"]
    assert "-9" in failed["error"] or "137" in failed["error"]  # the SIGKILL, as Ray reports it
    assert failed["trials_done"] >= 1
    assert "running" not in {t["status"] for t in client.get(f"/jobs/{job['id']}/trials").json()}


def test_killed_controller_resumes_its_job_without_losing_or_repeating_trials(tmp_path) -> None:
    database = f"sqlite:///{tmp_path / 'jobs.db'}"
    first = start_server(tmp_path, database)
    try:
        client = first.client()
        job = client.post("/jobs", json={"task": {"name": "digits"},
                                         "search": {"trials": 8, "initial": 3, "parallel": 1}}).json()
        wait_for(client, job["id"], lambda j: j["trials_done"] >= 2)
        before = {t["index"]: t for t in client.get(f"/jobs/{job['id']}/trials").json() if t["status"] == "succeeded"}
        drivers = driver_processes(job["id"])
        assert drivers
    finally:
        first.kill()
    psutil.wait_procs(drivers, timeout=30)
    assert driver_processes(job["id"]) == [], "the job driver must die with its controller"

    second = start_server(tmp_path, database)
    try:
        client = second.client()
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "succeeded", done["error"]
        trials = client.get(f"/jobs/{job['id']}/trials").json()
        assert [t["index"] for t in trials] == list(range(8))
        assert all(t["status"] == "succeeded" for t in trials)
        for index, old in before.items():
            assert trials[index]["metric"] == old["metric"] and trials[index]["finished_at"] == old["finished_at"]
    finally:
        second.stop()


def test_bearer_token_guards_everything_but_health(tmp_path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'jobs.db'}", {"SAMPLERSEARCH_API_TOKEN": "s3cret"})
    try:
        assert server.client().get("/health").status_code == 200
        assert server.client().get("/jobs").status_code == 401
        assert server.client("wrong").get("/tasks").status_code == 401
        assert server.client("s3cret").get("/tasks").status_code == 200
        assert server.client("s3cret").post("/jobs", json={"task": {"name": "cifar"}}).status_code == 422
        # Authentication comes before the body is read: a bad body with a wrong token is 401, not 422.
        assert server.client("wrong").post("/jobs", json={"task": {"name": "cifar"}}).status_code == 401
        assert server.client("wrong").post("/jobs", content=b"{not json",
                                           headers={"content-type": "application/json"}).status_code == 401
        assert server.client().get("/openapi.json").status_code == 200
        document = server.client().get("/openapi.json").json()
        assert "HTTPBearer" in document["components"]["securitySchemes"]
        assert "401" in document["paths"]["/jobs"]["get"]["responses"]
        assert "security" not in document["paths"]["/health"]["get"]
    finally:
        server.stop()


def test_postgresql_store_runs_a_job_the_same_way(tmp_path, postgres_url: str) -> None:
    server = start_server(tmp_path, postgres_url)
    try:
        client = server.client()
        job = client.post("/jobs", json=SMALL_JOB).json()
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "succeeded", done["error"]
        assert len(client.get(f"/jobs/{job['id']}/trials").json()) == 4
        assert client.get(f"/jobs/{job['id']}/sampler").status_code == 200
    finally:
        server.stop()


def test_jobs_run_as_ray_jobs_named_by_service_id_with_metadata_logs_and_the_same_status(server: Server) -> None:
    client = server.client()
    kept = client.post("/jobs", json=SMALL_JOB).json()
    cancelled = client.post("/jobs", json={"task": {"name": "digits"},
                                           "search": {"trials": 40, "initial": 3, "parallel": 1}}).json()
    wait_for(client, cancelled["id"], lambda j: j["status"] == "running" and j["trials_done"] >= 1)
    assert f"samplersearch job {cancelled['id']} trial" in " ".join(trial_actor_reprs(server)), \
        "a running trial's actor names its job and trial in the dashboard"
    assert client.post(f"/jobs/{cancelled['id']}/cancel").status_code == 200
    assert wait_for(client, kept["id"], finished)["status"] == "succeeded"

    ray_jobs = ray_jobs_client(server)
    listed = {job.submission_id: job for job in ray_jobs.list_jobs()}
    assert all(job.submission_id and job.submission_id.startswith("samplersearch-job-") for job in listed.values()), \
        "the controller itself must not be a Ray job"
    for job, ray_status in ((kept, "SUCCEEDED"), (cancelled, "STOPPED")):
        submission = f"samplersearch-job-{job['id']}"
        deadline = time.monotonic() + 30  # the store is final before the driver process has exited
        while not (info := ray_jobs.get_job_info(submission)).status.is_terminal() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert info.status == ray_status
        assert info.metadata["samplersearch_job_id"] == str(job["id"]) and info.metadata["kind"] == "search"
        assert info.metadata["task"] == "digits" and info.metadata["trials_url"].endswith(f"/jobs/{job['id']}/trials")
        assert f"samplersearch job {job['id']}" in ray_jobs.get_job_logs(submission)
        links = client.get(f"/jobs/{job['id']}").json()["links"]
        assert links["ray_submission_id"] == submission and links["ray_job"].endswith(f"#/jobs/{submission}")
    assert client.get(f"/jobs/{cancelled['id']}").json()["status"] == "cancelled"


def trial_actor_reprs(server: Server) -> list[str]:
    """The *Repr* of every alive actor, as the dashboard's Actors page shows it."""
    dashboard = server.client().get("/health").json()["ray_dashboard"]
    response = httpx.get(f"{dashboard}/api/v0/actors", params={"detail": "1", "limit": "1000"},
                         headers={"Authorization": f"Bearer {ray_token(server)}"}, timeout=30)
    response.raise_for_status()
    actors = response.json()["data"]["result"]["result"]
    return [actor.get("repr_name") or "" for actor in actors if actor["state"] == "ALIVE"]


def listening_sockets(server: Server) -> list[tuple[str, str, int]]:
    """``(process name, ip, port)`` of every listening TCP socket of the controller and its children."""
    found = []
    for process in [psutil.Process(server.process.pid), *server.descendants()]:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        found += [(process.name(), c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_local_ray_listens_on_loopback_only_and_refuses_callers_without_the_token(server: Server) -> None:
    client = server.client()
    job = client.post("/jobs", json={"task": {"name": "digits"}, "search": {"trials": 40, "initial": 3, "parallel": 1}})
    wait_for(client, job.json()["id"], lambda j: j["trials_done"] >= 1)
    try:
        sockets = listening_sockets(server)
        names = {name for name, _, _ in sockets}
        assert {"gcs_server", "raylet"} <= names, sockets  # the head and a running job are in view
        exposed = [(name, ip, port) for name, ip, port in sockets if not is_loopback(ip)]
        assert [s for s in exposed if not refuses_unauthenticated(s[2])] == [], exposed
        # What would listen beyond loopback on a cluster refuses callers without the token here too.
        gcs_ports = [port for name, _, port in sockets if name == "gcs_server"]
        assert all(refuses_unauthenticated(port) for port in gcs_ports)
        dashboard_port = int(client.get("/health").json()["ray_dashboard"].rsplit(":", 1)[1])
        assert http_status(dashboard_port, "/api/jobs/") == 401
        assert http_status(dashboard_port, "/api/jobs/", {"Authorization": f"Bearer {ray_token(server)}"}) == 200
    finally:
        client.post(f"/jobs/{job.json()['id']}/cancel")


def test_the_ray_token_file_is_private_and_ray_writes_none_of_its_own(server: Server) -> None:
    token_file = server.workdir / ".samplersearch" / "ray_auth_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and len(ray_token(server)) >= 32
    assert not (Path(server.workdir) / ".ray" / "auth_token").exists()


def test_a_cli_run_beside_serve_on_one_database_runs_once_and_belongs_to_the_cli(tmp_path) -> None:
    import subprocess
    import sys

    database = f"sqlite:///{tmp_path / 'jobs.db'}"
    server = start_server(tmp_path, database)
    try:
        out = tmp_path / "best.json"
        result = subprocess.run([sys.executable, "-m", "service", "run", "--task", "digits", "--trials", "4",
                                 "--initial", "2", "--db", database, "--out", str(out)],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        job_id = json.loads(result.stdout.strip().splitlines()[-1])["job_id"]
        job = server.client().get(f"/jobs/{job_id}").json()
        assert job["status"] == "succeeded" and job["trials_done"] == 4 and out.is_file()
        assert job["links"]["ray_submission_id"] is None, "the controller must never pick up a CLI job"
        assert ray_jobs_client(server).list_jobs() == []
    finally:
        server.stop()



def test_plots_are_served_as_png_and_svg_per_job_kind(server: Server) -> None:
    client = server.client()
    strategy = wait_for(client, client.post("/jobs", json={"kind": "strategy", "task": {"name": "digits"},
                                                           "strategy": {"name": "uniform"},
                                                           "run": {"seeds": 2, "epochs": 2}}).json()["id"], finished)
    png = client.get(f"/jobs/{strategy['id']}/plots/curves")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = client.get(f"/jobs/{strategy['id']}/plots/timeline", params={"format": "svg"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    missing = client.get(f"/jobs/{strategy['id']}/plots/history")
    assert missing.status_code == 404 and "plots: curves, timeline" in missing.json()["detail"]
    assert client.get(f"/jobs/{strategy['id']}/plots/timeline", params={"format": "gif"}).status_code == 422
    queued = client.post("/jobs", json={"task": {"name": "digits"}, "search": {"trials": 1, "initial": 1}}).json()
    early = client.get(f"/jobs/{queued['id']}/plots/weights")
    assert early.status_code in (409, 200)  # 409 until the job has succeeded
    wait_for(client, queued["id"], finished)
