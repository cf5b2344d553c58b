"""A Ray Tune callback that writes every trial event to the SQL store, as it happens.

Tune pickles its run config, so the callback holds only the database URL and opens its store
lazily in the driver process. A trial's index travels in its config (``index_key``: set by the
searcher from the job's free indices, or a strategy run's ``seed``), so a resumed job continues
without repeating.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from ray import cloudpickle
from ray.tune import Callback

from service.errors import MAX_ERROR_CHARS, one_line, strip_ansi
from service.models import TrialStatus
from service.searchers.gp_ucb import SUGGESTION_KEY
from service.store import Store

logger = logging.getLogger(__name__)

RECORDED_METRICS = ("epoch", "val_accuracy", "objective", "train_loss", "epoch_seconds", "samples_per_second",
                    "backward_samples", "forward_samples", "steps", "test_accuracy", "device", "node_id")


def describe_error(trial: Any) -> str:
    """A one-line reason for a failed Tune trial: the root exception's type and message.

    Tune writes the error next to the trial (``pickled_error_file`` and ``error_file``) before it
    calls ``on_trial_error``; these local files are read rather than the synced storage copy.
    """
    pickled = getattr(trial, "pickled_error_file", None)
    if pickled and Path(pickled).is_file():
        try:
            with open(pickled, "rb") as handle:
                return one_line(cloudpickle.load(handle))
        except Exception:  # noqa: BLE001 - fall back to the text file below
            pass
    text_file = getattr(trial, "error_file", None)
    if text_file and Path(text_file).is_file():
        lines = [line for line in Path(text_file).read_text().splitlines() if line.strip()]
        if lines:
            return strip_ansi(lines[-1])[:MAX_ERROR_CHARS]
    return "trial failed without an error message"


def _log(job_id: int, index: int, outcome: str) -> None:
    """One line per finished trial in the driver's log (the Ray dashboard shows it)."""
    print(f"samplersearch job {job_id} trial {index} {outcome}", flush=True)


class TrialRecorder(Callback):
    """Records trials of job ``job_id``.

    Args:
        database_url: the store's URL.
        job_id: the job whose trials these are.
        parameter_names: config keys that are sampler parameters (others are not stored as params).
        index_key: the config key holding a trial's index.
        searcher: recorded as a trial's ``suggestion`` when its config does not say where it came from.
    """

    def __init__(self, database_url: str, job_id: int, parameter_names: list[str], index_key: str,
                 searcher: str = "") -> None:
        self.database_url = database_url
        self.searcher = searcher
        self.job_id = job_id
        self.parameter_names = list(parameter_names)
        self.index_key = index_key
        self._store: Store | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.database_url, apply_migrations=False)
        return self._store

    def _index(self, trial: Any) -> int:
        return int(trial.config[self.index_key])

    def _record_start(self, trial: Any) -> None:
        params = {name: float(trial.config[name]) for name in self.parameter_names}
        suggestion = trial.config.get(SUGGESTION_KEY) or self.searcher or None
        self.store.start_trial(self.job_id, self._index(trial), params, tune_trial_id=trial.trial_id,
                               suggestion=suggestion)

    def _write(self, trial: Any, write: Any) -> int:
        """``write(index)``; when the trial has no row yet (Tune may report on a trial whose worker
        died before ``on_trial_start``), record its start first and write again."""
        index = self._index(trial)
        try:
            write(index)
        except LookupError:
            self._record_start(trial)
            write(index)
        return index

    def _record_result(self, trial: Any, result: dict) -> None:
        row = {key: result[key] for key in RECORDED_METRICS if key in result}
        self._write(trial, lambda index: self.store.add_trial_result(self.job_id, index, row))

    def _record_complete(self, trial: Any) -> None:
        metric = (trial.last_result or {}).get("objective")
        if metric is None or not math.isfinite(float(metric)):
            index = self._write(trial, lambda i: self.store.finish_trial(
                self.job_id, i, status=TrialStatus.FAILED, error="trial finished without a finite objective"))
            _log(self.job_id, index, "failed: no finite objective")
            return
        index = self._write(trial, lambda i: self.store.finish_trial(self.job_id, i, status=TrialStatus.SUCCEEDED,
                                                                      metric=float(metric)))
        _log(self.job_id, index, f"succeeded, objective {float(metric):.4f}")

    def _record_error(self, trial: Any) -> None:
        error = describe_error(trial)
        index = self._write(trial, lambda i: self.store.finish_trial(self.job_id, i, status=TrialStatus.FAILED,
                                                                      error=error))
        _log(self.job_id, index, f"failed: {error}")

    # Tune's callbacks. An exception escaping one would abort ``Tuner.fit`` and so the whole job:
    # a write that fails is logged, and the job's end (``finish_job``) closes what was left open.

    def _guarded(self, what: str, record: Any, *args: Any) -> None:
        try:
            record(*args)
        except Exception:  # noqa: BLE001 - see above
            logger.exception("job %s: could not record %s of a trial", self.job_id, what)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._guarded("the start", self._record_start, trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._guarded("a result", self._record_result, trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._guarded("the end", self._record_complete, trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._guarded("the failure", self._record_error, trial)
