"""`recurrent evaluate RUN --data/--set`: a finished run scored on other data, its own results untouched."""

import json
import os

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main


def test_sentiment_run_scores_another_dataset_through_its_own_vocabulary(tmp_path, csv_file, capsys):
    run = verbs.train("sentiment", quick=True, quiet=True, run_dir=str(tmp_path / "run"))
    own = (tmp_path / "run" / "metrics.json").read_text()
    assert main(["evaluate", run.path, "--data", csv_file, "--set", "data.text_column=review",
                 "--set", "data.label_column=sentiment"]) == 0
    written = tmp_path / "run" / "evaluations" / "reviews.csv,data.text_column=review,data.label_column=sentiment"
    metrics = json.loads((written / "metrics.json").read_text())
    assert metrics["evaluated_on"]["data"] == csv_file and 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["test_examples"] > 0 and "bigram_tfidf_logreg" in metrics["baselines"]
    assert (tmp_path / "run" / "metrics.json").read_text() == own
    assert "written to" in capsys.readouterr().out


def test_settings_the_model_cannot_take_are_one_line(tmp_path, capsys):
    run = verbs.train("adding", quick=True, quiet=True, run_dir=str(tmp_path / "run"))
    assert main(["evaluate", run.path, "--set", "data.length=30"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "length" in err
    assert main(["evaluate", run.path, "--set", "train.epochs=3"]) == 2
    assert "only data settings" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run" / "evaluations" / "data.length=30" / "metrics.json")


def test_language_model_and_forecasting_read_other_data(tmp_path):
    text = tmp_path / "other.txt"
    text.write_text("an entirely different text, with characters like { and } the run never saw. " * 60)
    run = verbs.train("language_model", quick=True, quiet=True, run_dir=str(tmp_path / "lm"))
    metrics = verbs.evaluate(run.path, data=str(text), quiet=True)
    assert metrics["test_bpc"] > 0 and metrics["evaluated_on"]["data"] == str(text)
    run = verbs.train("forecasting", quick=True, quiet=True, run_dir=str(tmp_path / "fc"))
    metrics = verbs.evaluate(run.path, data="generated:600", quiet=True)
    assert metrics["mase"] > 0 and "seasonal_naive" in metrics["baselines"]
    import pytest

    from keras_recurrent.tasks import UserError

    with pytest.raises(UserError, match="data.window=12"):
        verbs.evaluate(run.path, set=["data.window=12"], quiet=True)
