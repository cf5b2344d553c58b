"""Give every suggestion its trial index, so that a trial carries it from the start (the Ray
dashboard shows it in the trial actor's name, and the store files the trial under it)."""

from __future__ import annotations

from typing import Any

from ray.tune.search import Searcher

from workers.trial import TRIAL_INDEX_KEY


class TrialIndexer(Searcher):
    """Wraps ``searcher``: each new trial's config gets ``TRIAL_INDEX_KEY`` = the next of
    ``free_indices`` (in suggestion order, which is Tune's trial creation order). A trial id that
    asks again keeps its index. Everything else is the wrapped searcher's."""

    def __init__(self, searcher: Searcher, free_indices: list[int]) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.free_indices = list(free_indices)
        self._assigned: dict[str, int] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if trial_id not in self._assigned and not self.free_indices:
            return Searcher.FINISHED
        config = self.searcher.suggest(trial_id)
        if not isinstance(config, dict):
            return config
        if trial_id not in self._assigned:
            self._assigned[trial_id] = self.free_indices.pop(0)
        return {**config, TRIAL_INDEX_KEY: self._assigned[trial_id]}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> None:
        self.searcher.add_evaluated_point(*args, **kwargs)

    def get_state(self) -> dict[str, Any]:
        return {"free_indices": self.free_indices, "assigned": self._assigned, "searcher": self.searcher.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.free_indices, self._assigned = list(state["free_indices"]), dict(state["assigned"])
        self.searcher.set_state(state["searcher"])

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)
