"""Helpers every benchmark shares: the machine record and writing results/<name>.json."""

from __future__ import annotations

import json
import os
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


def write_result(name: str, result: dict) -> str:
    from keras_recurrent.pipelines import rundir
    from keras_recurrent.pipelines.environment import environment_record

    record = {"benchmark": name, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "environment": environment_record(result.get("settings", {}).get("seed", 0)), **result}
    path = os.path.join(RESULTS, f"{name}.json")
    rundir.write_json(path, record)
    print(json.dumps({k: v for k, v in record.items() if k != "environment"}, indent=2))
    print(f"wrote {path}")
    return path
