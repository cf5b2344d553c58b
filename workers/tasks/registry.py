"""Task registry: built-in tasks plus those third parties publish under the entry-point group
``samplersearch.tasks`` (each entry point names a :class:`TaskDefinition` object). Users pick a
task by name; no user-supplied import string is ever resolved."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from workers.tasks.builtin import BUILTIN_TASKS
from workers.tasks.definition import TaskDefinition

ENTRY_POINT_GROUP = "samplersearch.tasks"


class UnknownTaskError(KeyError):
    """No task registered under that name."""

    def __str__(self) -> str:
        return str(self.args[0])


@lru_cache(maxsize=1)
def _registry() -> dict[str, TaskDefinition]:
    tasks = {task.name: task for task in BUILTIN_TASKS}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        task = point.load()
        if callable(task) and not isinstance(task, TaskDefinition):
            task = task()
        if not isinstance(task, TaskDefinition):
            raise TypeError(f"entry point {point.name!r} in {ENTRY_POINT_GROUP} must name a TaskDefinition")
        tasks.setdefault(task.name, task)
    return tasks


def list_tasks() -> list[TaskDefinition]:
    """All registered tasks, sorted by name."""
    return sorted(_registry().values(), key=lambda task: task.name)


def get_task(name: str) -> TaskDefinition:
    """The task registered as ``name``; :class:`UnknownTaskError` lists the known names."""
    try:
        return _registry()[name]
    except KeyError:
        known = ", ".join(sorted(_registry()))
        raise UnknownTaskError(f"no task {name!r}; known: {known}") from None
