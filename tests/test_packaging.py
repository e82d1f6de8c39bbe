"""The distribution as a user gets it: one import namespace, one version, a wheel that works outside the checkout."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import subprocess
import sys
import sysconfig
import tomllib
import zipfile

import pytest

import keras_recurrent

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLOORS = ("layers", "tasks", "pipelines")


def _source_packages() -> set[str]:
    """Every package folder of the three floors, as the installed module name."""
    found = {"keras_recurrent"}
    for floor in FLOORS:
        for init in (ROOT / floor).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT).parts
            found.add(".".join(("keras_recurrent",) + relative))
    return found


def test_every_source_package_is_installed():
    with open(ROOT / "pyproject.toml", "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    assert listed == _source_packages()


def test_one_version_everywhere(capsys):
    from keras_recurrent.pipelines.cli import main

    assert importlib.metadata.version("keras-recurrent") == keras_recurrent.__version__
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    line = capsys.readouterr().out.strip()
    import keras
    import tensorflow as tf

    assert line == (f"keras-recurrent {keras_recurrent.__version__} (keras {keras.__version__}, "
                    f"backend {keras.backend.backend()}, tensorflow {tf.__version__})")


def test_layers_register_under_the_namespace():
    import keras

    from keras_recurrent.layers import SRU

    assert keras.saving.get_registered_name(SRU) == "keras_recurrent>SRU"


def _run(args, cwd, env, timeout=300):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_beside_packages_of_the_same_names(tmp_path):
    """Build sdist and wheel, install the wheel into a fresh venv beside stub `layers`, `tasks` and
    `pipelines` packages (and a user's own `tasks.py`), and run it from outside the checkout.

    The fresh venv reaches its third-party dependencies (TensorFlow, Keras, ...) through a `.pth` line
    naming this environment's site-packages, so the test needs no network; that directory holds no
    importable keras_recurrent (an editable install is a finder that only its own `.pth` activates).
    """
    dist = tmp_path / "dist"
    # sdist first, then the wheel built from the unpacked sdist: a file the sdist forgets breaks the wheel.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)], ROOT, os.environ.copy())
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    assert wheels[0].name.startswith(f"keras_recurrent-{keras_recurrent.__version__}-")
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheels[0]), str(sdists[0])], ROOT, os.environ.copy())

    names = zipfile.ZipFile(wheels[0]).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"keras_recurrent"}
    for package in _source_packages():
        assert package.replace(".", "/") + "/__init__.py" in names
    for shipped in ("pretrained_m1_m3.keras", "pretrained_m1_m3.json"):  # the forecasting model and its card
        assert f"keras_recurrent/tasks/forecasting/{shipped}" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, os.environ.copy())
    python = venv / "bin" / "python"
    site = pathlib.Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheels[0])],
         tmp_path, os.environ.copy())
    for stub in FLOORS:  # what `pip install layers tasks pipelines` from the index would put beside us
        (site / stub).mkdir()
        (site / stub / "__init__.py").write_text(f"STUB = {stub!r}\n")
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "tasks.py").write_text("USERS_OWN = True\n")  # a user's own module beside their notebook
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    check = (
        "import importlib.metadata as md, keras_recurrent, layers, pipelines, tasks\n"
        "from packaging.requirements import Requirement\n"
        "from keras_recurrent.layers import SRU, SRUpp, MogrifierLSTM\n"
        "from keras_recurrent.tasks import get_task\n"
        f"assert keras_recurrent.__file__.startswith({str(site)!r}), keras_recurrent.__file__\n"
        "assert layers.STUB == 'layers' and pipelines.STUB == 'pipelines' and tasks.USERS_OWN\n"
        "assert get_task('sentiment').name == 'sentiment'\n"
        "from keras_recurrent.tasks.forecasting import pretrained\n"
        "assert pretrained.model().count_params() == pretrained.card()['parameters']\n"
        "for r in map(Requirement, md.requires('keras-recurrent')):\n"
        "    if r.marker is None or r.marker.evaluate({'extra': ''}):\n"
        "        assert md.version(r.name) in r.specifier, r\n"
        "print('ok')\n"
    )
    assert _run([python, "-c", check], work, env).strip().endswith("ok")
    listing = _run([venv / "bin" / "recurrent", "tasks"], work, env)
    assert "sentiment:" in listing and "language_model:" in listing
    version = _run([python, "-m", "keras_recurrent", "--version"], work, env)
    assert version.startswith(f"keras-recurrent {keras_recurrent.__version__} ")
    run_dir = work / "runs" / "quick"
    printed = _run([venv / "bin" / "recurrent", "train", "sentiment", "--quick", "--quiet", "--run-dir", str(run_dir)], work, env)
    assert printed.strip() == str(run_dir)
    assert (run_dir / "metrics.json").is_file() and (run_dir / "model.keras").is_file()
