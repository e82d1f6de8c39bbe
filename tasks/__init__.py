"""Task registry: one module (or package) per task, looked up by name.

Adding a task means adding its module and one line to `_TASK_MODULES`; nothing in `pipelines/` changes.
"""

from __future__ import annotations

import importlib

from keras_recurrent.tasks.base import (Compile, Endpoint, ModelRegistry, Schedule, Task, TaskData,
                                        TrainConfig, UserError)

# name -> "module:ClassName"; imported lazily so that `recurrent tasks` stays cheap as tasks grow.
_TASK_MODULES = {
    "sentiment": "keras_recurrent.tasks.sentiment:SentimentTask",
    "language_model": "keras_recurrent.tasks.language_model:LanguageModelTask",
    "adding": "keras_recurrent.tasks.adding:AddingTask",
    "forecasting": "keras_recurrent.tasks.forecasting:ForecastingTask",
    "sort": "keras_recurrent.tasks.pointer:SortTask",
    "convex_hull": "keras_recurrent.tasks.pointer:ConvexHullTask",
    "tsp": "keras_recurrent.tasks.pointer:TSPTask",
    "copy": "keras_recurrent.tasks.memory:CopyTask",
    "associative_recall": "keras_recurrent.tasks.memory:AssociativeRecallTask",
    "babi": "keras_recurrent.tasks.babi:BabiTask",
    "video": "keras_recurrent.tasks.video:VideoTask",
    "captioning": "keras_recurrent.tasks.captioning:CaptioningTask",
}


def task_names() -> list[str]:
    return list(_TASK_MODULES)


def model_families() -> list[str]:
    """One task name per distinct model registry, the first registered of each.

    Tasks that share their model builders (sort, convex_hull and tsp share the pointer network) differ
    only in data and scoring; the suites that run every model across backends, strategies and sweeps
    run one task of each family, and each task's own tests cover the rest.
    """
    seen, names = set(), []
    for name in _TASK_MODULES:
        models = get_task(name).models
        if id(models) not in seen:
            seen.add(id(models))
            names.append(name)
    return names


def check_task_name(name: str) -> None:
    """Raise `UserError` naming the known tasks unless `name` is one; imports no task module (cheap)."""
    if name not in _TASK_MODULES:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(_TASK_MODULES)}")


def get_task(name: str) -> Task:
    """Return an instance of the task called `name`, or raise `UserError` naming the known ones."""
    check_task_name(name)
    module_name, class_name = _TASK_MODULES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["Compile", "Endpoint", "ModelRegistry", "Schedule", "Task", "TaskData", "TrainConfig", "UserError",
           "check_task_name", "get_task", "model_families", "task_names"]
