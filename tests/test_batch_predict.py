"""`recurrent predict RUN --input FILE --output OUT`: whole files, streamed in batches, written atomically."""

import csv
import json
import os

import pytest

from keras_recurrent import pipelines
from keras_recurrent.pipelines.batch_predict import predict_file, read_inputs
from keras_recurrent.pipelines.cli import main


@pytest.fixture
def run(quick_sentiment_run):
    return quick_sentiment_run


def test_a_text_file_to_csv_in_batches(run, tmp_path, capsys):
    texts = [f"the plot was {'not ' if i % 3 else ''}good number {i}" for i in range(1000)]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n\n", encoding="utf-8")  # a blank line is skipped
    out = tmp_path / "out.csv"
    assert main(["predict", run, "--input", str(tmp_path / "in.txt"), "--output", str(out), "--batch-size", "64"]) == 0
    assert "1000 predictions" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["text"] for r in rows] == texts
    assert {r["label"] for r in rows} <= {"negative", "positive"} and all(0.5 <= float(r["probability"]) <= 1 for r in rows)
    # The same predictions as the in-memory path, batch boundaries or not.
    direct = pipelines.predict(run, texts[60:70])
    assert [float(r["probability"]) for r in rows[60:70]] == pytest.approx([d["probability"] for d in direct])


def test_a_csv_column_to_jsonl(run, tmp_path):
    source = tmp_path / "reviews.csv"
    source.write_text('id,review\n1,"a dull, boring film"\n2,a wonderful cast\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict_file(run, str(source), str(out), column="review", progress=False) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["a dull, boring film", "a wonderful cast"]


def test_reading_is_lazy():
    """Inputs come one at a time: a generator, not a list of the whole file."""
    import types

    assert isinstance(read_inputs(__file__), types.GeneratorType)


@pytest.mark.parametrize("args,message", [
    (["--input", "missing.txt", "--output", "o.csv"], "--input missing.txt: no such file"),
    (["--input", "in.csv", "--column", "stars", "--output", "o.csv"], "--column stars: not a column of"),
    (["--input", "in.txt", "--output", "o.parquet"], "expected a .csv or .jsonl file"),
    (["some text", "--input", "in.txt"], "one of the two"),
    (["some text", "--column", "text"], "--column goes with --input"),
    (["some text", "--output", "o.txt"], "--output o.txt: expected a .csv or .jsonl file"),
])
def test_bad_predict_input_is_one_line(run, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("good\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text("text\ngood\n", encoding="utf-8")
    (tmp_path / "o.csv").write_text("kept\n", encoding="utf-8")
    assert main(["predict", run, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert (tmp_path / "o.csv").read_text() == "kept\n"  # nothing overwritten


def test_inputs_on_the_command_line_go_to_an_output_file(run, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    assert main(["predict", run, "not bad at all", "a dull film", "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0] != rows[1] and "2 predictions" in capsys.readouterr().out


def test_a_failed_run_keeps_the_previous_output(run, tmp_path, capsys):
    out = tmp_path / "o.csv"
    out.write_text("previous\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    assert main(["predict", run, "--input", str(tmp_path / "empty.txt"), "--output", str(out)]) == 2
    assert "no inputs found" in capsys.readouterr().err
    assert out.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["empty.txt", "o.csv"]
