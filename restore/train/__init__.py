"""Training: one engine (:mod:`restore.train.engine`) and one recipe per task
(``restore.train.<task>``). Never imported by ``import restore``; importing this package
imports no recipe (and no torch), so the command line can list the tasks cheaply."""

from __future__ import annotations

import importlib

from restore import TASKS  # every task has a recipe, in the module ``restore.train.<task>``

__all__ = ["TASKS", "recipe"]


def recipe(task: str):
    """The :class:`restore.train.engine.Recipe` subclass of ``task`` (imports its module).

    Raises:
        KeyError: for a task without a recipe.
    """
    if task not in TASKS:
        raise KeyError(f"no training recipe for task {task!r}; tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"restore.train.{task}").RECIPE
