"""Tasks: data a subnet is scored on, generated or shipped by packages (no downloads at run time)."""

from hwnas.tasks._task import Task, get_task, list_tasks, register_task
from hwnas.tasks import builtin  # noqa: F401  (registers the built-in tasks)

__all__ = ["Task", "get_task", "list_tasks", "register_task"]
