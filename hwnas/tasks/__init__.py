"""Tasks: data a subnet is scored on, generated or shipped by packages (no downloads at run time), or the
user's own files (an image folder, `.npy` arrays, parallel text, COCO-format detection files)."""

from hwnas.tasks import arrays, audio, builtin, cluttered, coco, images, sequences, shapes, text  # noqa: F401  (registers the tasks)
from hwnas.tasks._task import (
    BOS,
    EOS,
    FIRST_TOKEN,
    PAD,
    TASK_KINDS,
    TASKS,
    UNK,
    Task,
    TaskDataError,
    get_task,
    list_tasks,
    register_task,
    task_options,
)

__all__ = [
    "BOS", "EOS", "FIRST_TOKEN", "PAD", "TASK_KINDS", "TASKS", "UNK", "Task", "TaskDataError", "get_task", "list_tasks",
    "register_task", "task_options",
]
