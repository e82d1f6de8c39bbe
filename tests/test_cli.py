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
    assert evaluated.startswith("accuracy=") and "baseline[bag_of_words_logreg]=" in evaluated
    assert "train_seconds" not in evaluated and "epochs_trained" not in evaluated  # evaluation facts only
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


@pytest.fixture
def finished_run(quick_sentiment_run):
    """A finished run whose files must survive every bad command below untouched."""
    return quick_sentiment_run


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
    (["train", "forecasting", "--set", "model.combine=naive2"], "model.combine: 'naive2' is not fitted on one series; "
                                                                "choose from naive, seasonal_naive, ets, theta, arima"),
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
    # The zoo: every task's readers and settings, and every verb's arguments (issue 27).
    # forecasting
    (["train", "forecasting", "--data", "{series_header_only}"], "no data rows (only a header)"),
    (["train", "forecasting", "--data", "{series_one_row}"], "1 row(s), too few to infer the frequency"),
    (["train", "forecasting", "--data", "{series_infinite}"], "row 3: column 'sales' is infinite"),
    (["train", "forecasting", "--data", "{series_text}"], "row 2: column 'sales' is not numeric"),
    (["train", "forecasting", "--data", "{series_duplicated}"], "row 3: duplicated time"),
    (["train", "forecasting", "--data", "{series_backwards}"], "comes before the row above"),
    (["train", "forecasting", "--data", "{series}", "--set", "data.time_column=when"], "data.time_column='when': not a column"),
    (["train", "forecasting", "--data", "{series}", "--set", "data.targets=units"], "units"),
    (["train", "forecasting", "--data", "generated:many"], "expected generated or generated:LENGTH"),
    (["train", "forecasting", "--data", "{series_binary}"], "not a readable CSV"),
    # sentiment
    (["train", "sentiment", "--data", "{reviews_no_label}"], "no column 'label'"),
    (["train", "sentiment", "--data", "{empty_dir}"], "directory layout not recognised"),
    # babi
    (["train", "babi", "--data", "{empty_dir}"], "no qa1_*_train.txt"),
    (["train", "babi", "--data", "{babi_no_answer}"], "line 2: a question without its answer"),
    (["train", "babi", "--data", "{babi_bad_fact}"], "supporting fact '9' is no sentence of this story"),
    (["train", "babi", "--data", "{babi_two_sets}"], "holds 2 bAbI sets"),
    (["train", "babi", "--data", "{babi_no_id}"], "expected 'ID text'"),
    (["train", "babi", "--set", "data.tasks=25"], "bAbI tasks are numbered 1 to 20"),
    # video
    (["train", "video", "--data", "{empty_dir}"], "no .npy"),
    (["train", "video", "--data", "{clips_two_sizes}"], "every clip needs the same size"),
    (["train", "video", "--data", "{clips_broken}"], "not a readable NumPy file"),
    (["train", "video", "--data", "tfds:mnist"], "not a video source"),
    # captioning
    (["train", "captioning", "--data", "tfds:mnist"], "mnist"),
    (["train", "captioning", "--data", "{empty_dir}"], "no captions file"),
    # language model
    (["train", "language_model", "--data", "{text_empty}"], "the text is empty"),
    (["train", "language_model", "--data", "{text_latin1}"], "pass --encoding"),
    # generated-data tasks refuse a --data
    (["train", "adding", "--data", "some.csv"], "generates its own data"),
    (["train", "sort", "--data", "some.csv"], "generates its own instances"),
    (["train", "copy", "--data", "some.csv"], "generates its own sequences"),
    (["train", "tsp", "--set", "data.num_points=9-5"], "LOW must not exceed HIGH"),
    (["train", "tsp", "--set", "data.num_points=2"], "need at least 3 points"),
    (["train", "copy", "--set", "data.min_length=9", "--set", "data.max_length=3"], "exceeds data.max_length=3"),
    # settings
    (["train", "sentiment", "--set", "train.optimizer=lbfgs"], "train.optimizer='lbfgs': expected one of"),
    (["train", "sentiment", "--set", "train.optimizer=rmsprop", "--set", "train.clip=spectral"], "train.clip=spectral"),
    (["train", "sentiment", "--set", "train.learning_rate=0"], "must be greater than 0"),
    (["train", "sentiment", "--strategy", "warp"], "--strategy 'warp': expected one of"),
    (["train", "sentiment", "--run-dir", "{a_file}"], "exists and is not a directory"),
    (["train", "sentiment", "--run-dir", "{empty_dir_with_file}"], "exists and is not a run directory"),
    # tune
    (["tune", "sentiment", "--tuner", "annealing"], "--tuner 'annealing': expected one of"),
    (["tune", "sentiment", "--space", "model.colour=red"], "--space model.colour: not a hyperparameter"),
    (["tune", "sentiment", "--space", "train.learning_rate=0:1:log"], "a log range needs a positive lower end"),
    (["tune", "sentiment", "--prune", "mean"], "--prune 'mean': expected one of median"),
    (["tune", "sentiment", "--tuner", "grid", "--space", "train.learning_rate=1e-3:1e-2"], "grid searches choices only"),
    # predict, evaluate and export of a finished run
    (["predict", "{run}"], "give inputs on the command line or --input FILE"),
    (["predict", "{run}", "text", "--column", "review"], "--column goes with --input FILE"),
    (["predict", "{run}", "--input", "{missing}"], "no such file"),
    (["predict", "{run}", "--input", "{lines_with_blank}"], "line 2: a blank line between inputs"),
    (["predict", "{run}", "--input", "{reviews_no_label}", "--column", "nope"], "--column nope: not a column"),
    (["predict", "{run}", "--input", "{empty_lines}", "--output", "{kept_output}"], "no inputs found"),
    (["predict", "{run}", "a film", "--output", "{a_file}"], "expected a .csv or .jsonl file"),
    (["predict", "{run}", "a film", "--output-dir", "{a_file}"], "--output-dir"),
    (["evaluate", "{run}", "--set", "model.units=3"], "only data settings"),
    (["evaluate", "{run}", "--set", "data.colour=red"], "data.colour: unknown key"),
    (["evaluate", "{empty_dir_with_file}"], "not a finished run"),
    (["export", "{run}", "--format", "onnx"], "--format 'onnx': expected one of"),
    (["export", "{run}", "--quantize", "dynamic"], "--quantize applies to --format tflite"),
    (["export", "{run}", "--format", "tflite", "--quantize", "int4"], "--quantize 'int4': expected one of"),
]


def _zoo_files(tmp_path) -> dict:
    """The bad files of the zoo above (and one good series), named as the cases name them."""
    import numpy as np

    def write(name, content):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return str(path)

    def babi(folder, lines):
        write(f"{folder}/qa1_x_train.txt", lines)
        return write(f"{folder}/qa1_x_test.txt", lines)

    good = "month,sales\n" + "".join(f"2020-{m:02d},{m}\n" for m in range(1, 13))
    files = {
        "series": write("series.csv", good),
        "series_header_only": write("header.csv", "month,sales\n"),
        "series_one_row": write("one.csv", "month,sales\n2020-01,3\n"),
        "series_infinite": write("inf.csv", good.replace("2020-02,2", "2020-02,inf")),
        "series_text": write("text.csv", good.replace("2020-01,1", "2020-01,lots")),
        "series_duplicated": write("dup.csv", good.replace("2020-02", "2020-01")),
        "series_backwards": write("back.csv", good.replace("2020-03", "2019-03")),
        "series_binary": write("binary.csv", b"\x00\xff\xfe\x00garbage\x00"),
        "reviews_no_label": write("no_label.csv", "text,stars\na fine film,5\n"),
        "empty_dir": str(tmp_path / "nothing"),
        "babi_no_answer": str(tmp_path / "babi1"),
        "babi_bad_fact": str(tmp_path / "babi2"),
        "babi_two_sets": str(tmp_path / "babi3"),
        "babi_no_id": str(tmp_path / "babi4"),
        "clips_two_sizes": str(tmp_path / "clips1"),
        "clips_broken": str(tmp_path / "clips2"),
        "text_empty": write("empty.txt", ""),
        "text_latin1": write("latin1.txt", "caf\xe9 au lait\n".encode("latin-1")),
        "a_file": write("a_file.txt", "mine\n"),
        "empty_dir_with_file": str(tmp_path / "occupied"),
        "missing": str(tmp_path / "missing.txt"),
        "lines_with_blank": write("lines.txt", "a fine film\n\na dull film\n"),
        "empty_lines": write("blank.txt", "\n\n"),
        "kept_output": write("kept.csv", "earlier output\n"),
    }
    (tmp_path / "nothing").mkdir()
    write("occupied/notes.txt", "mine\n")
    babi("babi1", "1 Mary moved to the bathroom.\n2 Where is Mary?\n")
    babi("babi2", "1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t9\n")
    babi("babi3/en", "1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t1\n")
    babi("babi3/en-10k", "1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t1\n")
    babi("babi4", "Mary moved to the bathroom.\n")
    (tmp_path / "clips1").mkdir()
    np.save(tmp_path / "clips1" / "a.npy", np.zeros((6, 16, 16), np.uint8))
    np.save(tmp_path / "clips1" / "b.npy", np.zeros((6, 8, 8), np.uint8))
    write("clips2/a.npy", b"\x93NUMPY not really")
    return {f"{{{k}}}": v for k, v in files.items()}


def _tree(root) -> dict:
    """Every file under `root` with its bytes: what a failed command must leave as it was."""
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(argv, message, tmp_path, csv_file, cp1252_lines_dir, finished_run, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the project's saved_models
    (tmp_path / "empty.csv").write_text("text,label\n")
    (tmp_path / "three.csv").write_text("text,label\na,x\nb,y\nc,z\n")
    (tmp_path / "bad.json").write_text("{\"train\": {\"epochs\": 2,}}")
    fill = {"{csv}": csv_file, "{cp1252}": cp1252_lines_dir, "{run}": finished_run,
            "{empty_csv}": str(tmp_path / "empty.csv"), "{three_classes}": str(tmp_path / "three.csv"),
            "{bad_config}": str(tmp_path / "bad.json"), **_zoo_files(tmp_path)}
    before, files_before = snapshot(finished_run), _tree(tmp_path)
    assert main([fill.get(a, a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err
    assert snapshot(finished_run) == before
    assert _tree(tmp_path) == files_before  # nothing the user had was changed or removed
    assert not os.path.exists(tmp_path / "saved_models")  # a failed command leaves no half run behind


def test_ctrl_c_exits_130_with_how_to_resume(monkeypatch, capsys):
    from keras_recurrent import pipelines

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipelines, "train", interrupted)
    assert main(["train", "sentiment", "--quick"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; run the same command again to resume" in err and "Traceback" not in err


def test_logs_get_plain_lines_not_a_terminal_bar(tmp_path, capsys):
    # Standard output and error are not terminals here (captured), as in a redirected log: Keras's live bar
    # (ANSI colours, carriage returns) gives way to a line an epoch.
    assert main(["train", "adding", "--quick", "--epochs", "2", "--run-dir", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    assert "Epoch 2/2" in out and "\x1b[" not in out + err and "\r" not in out + err
