"""The README's task table names every task, links its page, and lists exactly the models its registry has."""

import os
import re

from keras_recurrent.tasks import get_task, task_names

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _task_rows():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| \[([\w, ]+)\]\(([^)]+)\) \|[^|]*\|[^|]*\| ([^|]+) \|", line)
        if match:
            names, page, models = match.groups()
            for name in names.split(", "):
                rows[name] = (page, [m.strip(" `") for m in models.split(",")])
    return rows


def test_the_task_table_matches_the_registries():
    rows = _task_rows()
    assert sorted(rows) == sorted(task_names())
    for name, (page, models) in rows.items():
        task = get_task(name)
        assert os.path.isfile(os.path.join(ROOT, page)), page
        assert models[0] == task.models.default, name  # the default first
        assert sorted(models) == sorted(task.models), name


def test_the_readme_is_a_first_page():
    assert len(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().splitlines()) <= 200
