"""The SQL store on SQLite and PostgreSQL: migrations, idempotent trial writes, best trial."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from service.models import JobStatus, TrialStatus
from service.store import JobNotFoundError, JobProgress, Store


@pytest.fixture
def store(database_url: str):
    store = Store(database_url)
    yield store
    store.dispose()


def test_migrations_create_tables_and_record_head(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"jobs", "trials", "artifacts", "alembic_version"} <= tables
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"


def test_search_jobs_stored_before_reference_rounds_keep_one_round(database_url: str) -> None:
    """Migration 0005: a search job stored before ``search.reference_rounds`` existed trained its
    reference model once, and says so after the upgrade; a downgrade takes the field away again."""
    from alembic import command
    from alembic.config import Config

    from service.store import MIGRATIONS_DIR, make_engine

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))

    def migrate_to(revision: str, step=command.upgrade) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    migrate_to("0004")
    old = Store(database_url, apply_migrations=False)
    search = old.create_job({"task": {"name": "digits"}, "search": {"trials": 4}})
    strategy = old.create_job({"task": {"name": "digits"}, "strategy": {"name": "uniform"}}, kind="strategy")
    migrate_to("head")
    assert old.get_job(search.id).spec["search"] == {"trials": 4, "reference_rounds": 1}
    assert "search" not in old.get_job(strategy.id).spec
    migrate_to("0004", command.downgrade)
    assert old.get_job(search.id).spec["search"] == {"trials": 4}
    old.dispose()
    engine.dispose()


def test_migrations_are_idempotent_on_reopen(store: Store) -> None:
    job = store.create_job({"task": {"name": "digits"}})
    reopened = Store(store.url)
    assert reopened.get_job(job.id).spec == {"task": {"name": "digits"}}
    reopened.dispose()


def test_writing_the_same_trial_twice_keeps_one_row(store: Store) -> None:
    job = store.create_job({})
    store.start_trial(job.id, 0, {"loss_k0": 0.1}, suggestion="sobol")
    store.start_trial(job.id, 0, {"loss_k0": 0.2}, suggestion="sobol")
    trials = store.trials(job.id)
    assert len(trials) == 1 and trials[0].params == {"loss_k0": 0.2}


def test_trial_records_metrics_history_device_and_timing(store: Store) -> None:
    job = store.create_job({})
    store.start_trial(job.id, 3, {"loss_k0": 0.5})
    store.add_trial_result(job.id, 3, {"epoch": 1, "objective": 0.4, "device": "cpu", "node_id": "n1"})
    store.add_trial_result(job.id, 3, {"epoch": 2, "objective": 0.6, "device": "cpu", "node_id": "n1"})
    store.finish_trial(job.id, 3, status="succeeded", metric=0.6)
    trial = store.trial(job.id, 3)
    assert [m["epoch"] for m in trial.metrics] == [1, 2]
    assert (trial.status, trial.metric, trial.device, trial.worker_node) == ("succeeded", 0.6, "cpu", "n1")
    assert trial.duration_s is not None and trial.duration_s >= 0
    assert trial.finished_at is not None


def test_failed_trial_keeps_its_error(store: Store) -> None:
    job = store.create_job({})
    store.start_trial(job.id, 0, {"loss_k0": 0.5})
    store.finish_trial(job.id, 0, status="failed", error="NonFiniteLossError: nan")
    trial = store.trial(job.id, 0)
    assert trial.status == "failed" and trial.error == "NonFiniteLossError: nan" and trial.metric is None


def test_best_trial_is_the_highest_succeeded_metric(store: Store) -> None:
    job = store.create_job({})
    for index, (status, metric) in enumerate([("succeeded", 0.5), ("failed", None), ("succeeded", 0.7),
                                              ("succeeded", 0.7), ("running", None)]):
        store.start_trial(job.id, index, {"loss_k0": 0.1 * index})
        if status != "running":
            store.finish_trial(job.id, index, status=status, metric=metric)
    assert store.best_trial(job.id).index == 2


def test_best_trial_is_none_without_a_success(store: Store) -> None:
    job = store.create_job({})
    assert store.best_trial(job.id) is None


def test_unknown_job_raises(store: Store) -> None:
    with pytest.raises(JobNotFoundError):
        store.get_job(12345)


def test_concurrent_trial_writes_lose_no_rows(store: Store) -> None:
    job = store.create_job({})
    errors: list[Exception] = []

    def write(worker: int) -> None:
        try:
            for i in range(15):
                index = worker * 100 + i
                store.start_trial(job.id, index, {"loss_k0": 0.5})
                store.add_trial_result(job.id, index, {"epoch": 1, "objective": 0.1})
                store.finish_trial(job.id, index, status="succeeded", metric=0.1)
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    trials = store.trials(job.id)
    assert len(trials) == 60 and all(t.status == "succeeded" and len(t.metrics) == 1 for t in trials)


def test_a_sql_ascii_postgres_database_works(sql_ascii_postgres_url: str) -> None:
    """psycopg returns text as bytes under SQL_ASCII unless the connection asks for UTF-8."""
    store = Store(sql_ascii_postgres_url)
    try:
        job = store.create_job({"task": {"name": "mnist1d"}})
        store.start_trial(job.id, 0, {"loss_k0": 0.5})
        store.finish_trial(job.id, 0, status="failed", error="ValueError: bad input")
        assert store.trial(job.id, 0).error == "ValueError: bad input"
    finally:
        store.dispose()


def test_the_database_refuses_a_status_outside_the_enums(store: Store) -> None:
    job = store.create_job({})
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(text("UPDATE jobs SET status = 'sleeping' WHERE id = :id"), {"id": job.id})
    store.start_trial(job.id, 0, {"x": 0.5})
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(text("UPDATE trials SET status = 'done' WHERE job_id = :id"), {"id": job.id})
    with pytest.raises(StatementError):
        store.update_job(job.id, status="sleeping")


def test_statuses_come_back_as_enums(store: Store) -> None:
    job = store.create_job({}, status=JobStatus.RUNNING)
    store.start_trial(job.id, 0, {"x": 0.5})
    assert store.get_job(job.id).status is JobStatus.RUNNING and store.get_job(job.id).status.active
    assert store.trial(job.id, 0).status is TrialStatus.RUNNING and not store.trial(job.id, 0).status.finished


def test_progress_and_best_trials_of_many_jobs_in_one_query_each(store: Store) -> None:
    first, second, empty = store.create_job({}), store.create_job({}), store.create_job({})
    for index, (status, metric) in enumerate([("succeeded", 0.5), ("failed", None), ("succeeded", 0.7), ("running", None)]):
        store.start_trial(first.id, index, {"x": 0.1})
        if status != "running":
            store.finish_trial(first.id, index, status=status, metric=metric)
    store.start_trial(second.id, 0, {"x": 0.1})
    store.finish_trial(second.id, 0, status="succeeded", metric=0.9)
    store.start_trial(second.id, 1, {"x": 0.2})
    store.finish_trial(second.id, 1, status="succeeded", metric=0.9)
    ids = [first.id, second.id, empty.id]
    assert store.progress(ids) == {first.id: JobProgress(3, 1), second.id: JobProgress(1 + 1, 0)}
    best = store.best_trials(ids)
    assert set(best) == {first.id, second.id}
    assert (best[first.id].index, best[first.id].metric) == (2, 0.7)
    assert best[second.id].index == 0  # ties go to the lower index


def test_artifacts_are_stored_replaced_and_removed_with_their_job(store: Store) -> None:
    job = store.create_job({})
    store.put_artifact(job.id, "weights.npy", b"\x93NUMPY-one", "application/x-npy")
    store.put_artifact(job.id, "weights.npy", b"\x93NUMPY-two" + bytes(range(256)), "application/x-npy")
    store.put_artifact(job.id, "reference-model.pt", b"PK", "application/octet-stream")
    artifact = store.artifact(job.id, "weights.npy")
    assert artifact.content == b"\x93NUMPY-two" + bytes(range(256)) and artifact.size_bytes == 266
    assert store.artifact_names(job.id) == ["reference-model.pt", "weights.npy"]
    assert store.artifact(job.id, "absent") is None
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": job.id})
    assert store.artifact_names(job.id) == []
