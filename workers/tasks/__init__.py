"""Tasks: a dataset and a default model, chosen by registered name."""

from workers.tasks.definition import Recipe, TaskDefinition, TaskPaths, TaskSpec
from workers.tasks.loading import TaskData, load_task_data
from workers.tasks.registry import UnknownTaskError, get_task, list_tasks

__all__ = [
    "Recipe",
    "TaskData",
    "TaskDefinition",
    "TaskPaths",
    "TaskSpec",
    "UnknownTaskError",
    "get_task",
    "list_tasks",
    "load_task_data",
]
