"""bAbI: the file format, the generator's answers, and the task through the pipeline."""

import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.babi import stories as st

from conftest import SHARED_DATA

BABI = SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"


def test_parse_resets_stories_and_maps_supporting_facts():
    lines = ["1 Mary moved to the bathroom.", "2 John went to the hallway.", "3 Where is Mary? \tbathroom\t1",
             "4 Mary went to the garden.", "5 Where is Mary? \tgarden\t4", "1 Sandra went to the office.",
             "2 Where is Sandra? \toffice\t1"]
    examples = st.parse(lines, 1, "test")
    assert [e.answer for e in examples] == ["bathroom", "garden", "office"]
    assert examples[1].story[-1] == ["mary", "went", "to", "the", "garden"] and examples[1].supporting == [2]
    assert examples[2].story == [["sandra", "went", "to", "the", "office"]]  # ID 1 starts a new story
    with pytest.raises(UserError, match="line 2"):
        st.parse(["1 Mary moved.", "Mary moved again."], 1, "bad.txt")
    with pytest.raises(UserError, match="line 1"):
        st.parse(["1 Where is Mary?\t\t1"], 1, "bad.txt")


@pytest.mark.parametrize("task", [1, 2])
def test_generated_answers_follow_from_their_supporting_facts(task):
    examples = st.parse(st.generate(task, 200, seed=3), task, "generated")
    assert len(examples) >= 200
    for ex in examples:
        facts = [ex.story[i] for i in ex.supporting]
        assert ex.answer in facts[-1] if task == 1 else ex.answer in sum(facts, [])
        subject = ex.question[-1]
        assert any(subject in fact for fact in facts)
        # Nothing said after the last supporting fact moves the subject again (task 1).
        if task == 1:
            later = ex.story[ex.supporting[0] + 1:]
            assert not any(s[0] == subject for s in later)


@pytest.mark.skipif(not BABI.is_dir(), reason="../shared/data/babi is not beside the project")
def test_every_real_task_parses():
    for number in st.TASK_NAMES:
        train, test = st.find_files(str(BABI), number)
        with open(train, encoding="utf-8") as handle:
            examples = st.parse(handle, number, train)
        assert len(examples) == 1000 and all(e.answer and e.question for e in examples)
    with pytest.raises(UserError, match="qa1_"):
        st.find_files(str(BABI.parent / "no-such"), 1)


def test_memn2n_and_lstm_train_predict_and_switch_the_softmax_back_on(tmp_path, capsys):
    run = verbs.train("babi", quick=True, quiet=True, run_dir=str(tmp_path / "memn2n"), set=["model.halve_lr_every=1"])
    assert 0.0 <= run.metrics["accuracy"] <= 1.0 and "most_frequent_answer" in run.metrics["baselines"]
    assert os.path.isfile(tmp_path / "memn2n" / "plots" / "attention.png")
    _, _, _, model = verbs.load_run(run.path)
    assert float(model.get_layer("memn2n").linear_start) == 0.0  # linear start ended
    assert run.metrics["best_epoch"] == 2  # the linear-start epoch is never the one kept
    _, config, _, _ = verbs.load_run(run.path)
    schedule = get_task("babi").schedule(config)
    assert schedule.warmup_epochs == 1  # the linear start's epoch
    scheduler = next(c for c in schedule.callbacks if hasattr(c, "schedule"))
    assert [scheduler.schedule(e, None) for e in range(3)] == pytest.approx([0.16, 0.08, 0.04])  # halved every epoch, as set
    assert float(model.optimizer.learning_rate) == pytest.approx(0.08)  # what the second epoch trained with
    assert type(model.optimizer).__name__ == "SpectralClipSGD"  # the authors' SGD and clipping, saved and loaded
    # The defaults: the base rate through the 20 epochs of linear start and 24 more, then halved every 25.
    _, defaults, _, _ = verbs.load_run(run.path)
    defaults.model.halve_lr_every, defaults.model.linear_start_epochs = 25, 20
    scheduler = next(c for c in get_task("babi").schedule(defaults).callbacks if hasattr(c, "schedule"))
    assert [scheduler.schedule(e, None) for e in (0, 19, 43, 44, 68, 69)] == pytest.approx([0.16] * 3 + [0.08] * 2 + [0.04])
    assert main(["predict", run.path, "Mary moved to the bathroom. Where is Mary?", "--json"]) == 0
    assert '"answer"' in capsys.readouterr().out
    assert main(["predict", run.path, "Mary moved to the bathroom."]) == 2
    assert "question" in capsys.readouterr().err
    lstm = verbs.train("babi", model="lstm", quick=True, quiet=True, run_dir=str(tmp_path / "lstm"))
    assert 0.0 <= lstm.metrics["accuracy"] <= 1.0


def test_bad_data_is_one_line(tmp_path, capsys):
    assert main(["train", "babi", "--quick", "--data", str(tmp_path)]) == 2
    assert "qa1_" in capsys.readouterr().err
    assert main(["train", "babi", "--quick", "--set", "data.tasks=21"]) == 2
    assert "1 to 20" in capsys.readouterr().err
    (tmp_path / "qa1_x_train.txt").write_text("1 Mary moved to the hallway.\n2 Where is Mary?\thallway\t1\n" * 3)
    (tmp_path / "qa1_x_test.txt").write_text("1 Mary moved to the moon.\n2 Where is Mary?\tmoon\t1\n")
    with pytest.raises(UserError, match="'moon'"):
        get_task("babi").load(str(tmp_path), get_task("babi").DataConfig(), 0)
    with pytest.raises(UserError, match="unseen_answers=wrong"):  # the error names the way out
        get_task("babi").load(str(tmp_path), get_task("babi").DataConfig(), 0)


def test_an_unseen_test_answer_can_be_kept_and_counted_wrong(tmp_path, capsys):
    # The real task 8 has one test answer ('football,apple,milk') that training never gives.
    story = "1 Mary moved to the hallway.\n2 Where is Mary?\thallway\t1\n3 John went to the moon.\n4 Where is John?\tmoon\t3\n"
    (tmp_path / "qa1_x_train.txt").write_text("1 Mary moved to the hallway.\n2 Where is Mary?\thallway\t1\n" * 8)
    (tmp_path / "qa1_x_test.txt").write_text(story)
    run = verbs.train("babi", quick=True, quiet=True, data=str(tmp_path), run_dir=str(tmp_path / "run"),
                      set=["data.unseen_answers=wrong", "train.epochs=3", "train.learning_rate=0.05"])
    assert "1 test question(s)" in capsys.readouterr().err
    # The model answers 'hallway' to everything; the moon question is an error whatever it says.
    assert run.metrics["accuracy"] <= 0.5 and run.metrics["error_percent"] >= 50.0
