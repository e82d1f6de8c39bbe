"""The command line: a quick train / evaluate / predict, and one-line errors for every bad input."""

import json
import os
import subprocess
import sys

import pytest

from keras_recurrent.pipelines.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recurrent(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.slow
def test_quick_train_evaluate_predict(tmp_path, csv_file, capsys):
    run = str(tmp_path / "run")
    # Training in a real process (what a user's shell sees: the run path alone on stdout, nothing on
    # stderr); evaluate and predict through the same entry point in this one.
    trained = recurrent("train", "sentiment", "--quick", "--quiet", "--data", csv_file, "--set", "data.text_column=review",
                        "--set", "data.label_column=sentiment", "--run-dir", run, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.strip() == run and trained.stderr == ""
    assert main(["evaluate", run]) == 0
    evaluated = capsys.readouterr().out
    assert "accuracy=" in evaluated and "baseline[bag_of_words_logreg]=" in evaluated
    assert main(["predict", run, "a fine and good film", "a dull and bad film", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["a fine and good film", "a dull and bad film"]


def test_bad_input_in_a_real_process_is_one_line_without_traceback(tmp_path):
    result = recurrent("train", "sentimnet", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("recurrent: error: unknown task 'sentimnet'; known tasks: sentiment, ")


@pytest.mark.parametrize("args, out", [(["--version"], "keras-recurrent "), (["--help"], "usage: recurrent"),
                                       (["train", "nosuchtask"], "unknown task 'nosuchtask'")])
def test_answers_that_need_no_model_import_no_tensorflow(args, out):
    # TensorFlow takes seconds to import: what needs no model answers without it.
    code = ("import sys\nfrom keras_recurrent.pipelines.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out in result.stdout + result.stderr


def test_tasks_listing(capsys):
    assert main(["tasks", "--json"]) == 0
    (sentiment,) = [t for t in json.loads(capsys.readouterr().out) if t["name"] == "sentiment"]
    assert sentiment["default_model"] == "bigru"
    assert set(sentiment["models"]) == {"simple_rnn", "lstm", "gru", "bilstm", "bigru", "mogrifier", "sru", "srupp", "ntm"}
    keys = [f["key"] for f in sentiment["hyperparameters"]["train"]]
    assert "train.clipnorm" in keys


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished run whose files must survive every bad command below untouched."""
    from keras_recurrent import pipelines

    path = str(tmp_path_factory.mktemp("runs") / "kept")
    pipelines.train("sentiment", run_dir=path, quick=True, quiet=True)
    return path


def snapshot(path):
    return {name: open(os.path.join(path, name), "rb").read() for name in ("config.json", "metrics.json", "model.keras")}


BAD = [
    (["train", "nosuchtask"], "unknown task 'nosuchtask'"),
    (["train", "sentiment", "--model", "transformer"], "unknown model 'transformer'"),
    (["train", "sentiment", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["dance"], "invalid choice: 'dance'"),
    (["train", "sentiment", "--data", "/no/such/file.csv"], "no such file or directory"),
    (["train", "sentiment", "--data", "{empty_csv}"], "no examples"),
    (["train", "sentiment", "--data", "{csv}"], "no column 'text'"),
    (["train", "sentiment", "--data", "{three_classes}"], "has 3 classes"),
    (["train", "sentiment", "--data", "{cp1252}"], "not valid utf-8; pass --encoding"),
    (["train", "sentiment", "--set", "model.colour=red"], "model.colour: unknown key"),
    (["train", "sentiment", "--set", "train.epochs=many"], "train.epochs='many': expected an integer"),
    (["train", "sentiment", "--set", "train.batch_size=-4"], "train.batch_size=-4: must be at least 1"),
    (["train", "sentiment", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "sentiment", "--epochs", "-3"], "argument --epochs: must be at least 1, got -3"),
    (["train", "sentiment", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["train", "sentiment", "--config", "/no/such/config.json"], "no such file"),
    (["train", "sentiment", "--quick", "--seed", "9", "--run-dir", "{run}"], "different config"),
    (["train", "sentiment", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["train", "sentiment", "--seed", "abc"], "argument --seed: expected an integer, got 'abc'"),
    (["train"], "the following arguments are required: task"),
    (["predict"], "the following arguments are required: run"),
    (["train", "sentiment", "--config", "{bad_config}"], "bad.json"),
    (["train", "sentiment", "--data", "{csv}", "--encoding", "klingon"], "data.encoding='klingon': unknown text encoding"),
    (["evaluate", "/no/such/run"], "no such run directory"),
    (["predict", "/no/such/run", "text"], "no such run directory"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(argv, message, tmp_path, csv_file, cp1252_lines_dir, finished_run, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the project's saved_models
    (tmp_path / "empty.csv").write_text("text,label\n")
    (tmp_path / "three.csv").write_text("text,label\na,x\nb,y\nc,z\n")
    (tmp_path / "bad.json").write_text("{\"train\": {\"epochs\": 2,}}")
    fill = {"{csv}": csv_file, "{cp1252}": cp1252_lines_dir, "{run}": finished_run,
            "{empty_csv}": str(tmp_path / "empty.csv"), "{three_classes}": str(tmp_path / "three.csv"),
            "{bad_config}": str(tmp_path / "bad.json")}
    before = snapshot(finished_run)
    assert main([fill.get(a, a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err
    assert snapshot(finished_run) == before
    assert not os.path.exists(tmp_path / "saved_models")  # a failed command leaves no half run behind


def test_ctrl_c_exits_130_with_how_to_resume(monkeypatch, capsys):
    from keras_recurrent import pipelines

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipelines, "train", interrupted)
    assert main(["train", "sentiment", "--quick"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; run the same command again to resume" in err and "Traceback" not in err
