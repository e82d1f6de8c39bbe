"""The video task: moving digits, clip files and Moving MNIST through tfds, its three models, its scores,
pictures and animations, predict on clip files, and one-line errors for bad clips."""

import json
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.video import digits, sources
from keras_recurrent.tasks.video.metrics import frame_scores
from keras_recurrent.tasks.video.models import MODELS, VideoModel, rollout

TASK = get_task("video")
SMALL = {"frame_shape": [16, 16, 1], "input_frames": 3, "output_frames": 2}


def test_moving_digits_are_deterministic_bounce_and_keep_splits_apart():
    a = digits.clip(5, "train", 7, 30, size=32, digits=2, speed=5.0, digit_size=12)
    assert a.shape == (30, 32, 32, 1) and a.dtype == np.float32 and 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, digits.clip(5, "train", 7, 30, size=32, digits=2, speed=5.0, digit_size=12))
    assert not np.array_equal(a, digits.clip(5, "train", 8, 30, size=32, digits=2, speed=5.0, digit_size=12))
    assert not np.array_equal(a, digits.clip(6, "train", 7, 30, size=32, digits=2, speed=5.0, digit_size=12))
    one = digits.clip(0, "test", 3, 60, size=32, digits=1, speed=4.0, digit_size=12)[..., 0]
    rows = np.array([np.nonzero(f.any(1))[0].mean() for f in one])
    cols = np.array([np.nonzero(f.any(0))[0].mean() for f in one])
    steps = np.hypot(np.diff(rows), np.diff(cols))
    assert np.median(steps) == pytest.approx(4.0, abs=1.0)  # moves at its speed...
    turned = (np.diff(np.sign(np.diff(rows))) != 0).any() or (np.diff(np.sign(np.diff(cols))) != 0).any()
    assert turned  # ...turns back at the walls within 60 frames of a 32-pixel canvas...
    for centre in (rows, cols):  # ...and bounces: it leaves the wall and crosses the canvas before turning again
        moves = np.diff(centre)
        assert np.mean(moves == 0) <= 0.2, centre
        flips = np.nonzero(np.diff(np.sign(moves[moves != 0])))[0]
        assert len(flips) >= 1 and np.all(np.diff(flips) >= 4), centre
    train, validation, test = digits.digit_images(12)
    assert len(train) + len(validation) + len(test) == 1797
    flat = {img.tobytes() for img in train}
    assert not any(img.tobytes() in flat for img in test)


def test_embedded_data_streams_by_index_in_the_shape_the_models_read():
    config = TASK.DataConfig(frame_size=16, digit_size=8, digits=1, input_frames=3, output_frames=2, num_examples=5,
                             held_out=2)
    data = TASK.load(None, config, seed=1)
    assert data.info == {"source": "moving digits", "frame_shape": [16, 16, 1], "input_frames": 3, "output_frames": 2}
    size, element = data.train_elements
    streamed = list(data.train.as_numpy_iterator())
    assert size == len(streamed) == 5
    for i in (0, 4):
        by_index = element(np.int64(i))
        np.testing.assert_array_equal(by_index[0].numpy(), streamed[i][0])
        whole = digits.clip(1, "train", i, 5, 16, 1, 3.0, 8)
        np.testing.assert_array_equal(streamed[i][0], whole[:3])
        np.testing.assert_array_equal(streamed[i][1], whole[3:])


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_predicts_the_horizon_and_rolls_out_further(name, tmp_path):
    import keras

    model = MODELS[name](VideoModel(filters=4, units=8, num_layers=2, patch_size=4), dict(SMALL))
    x = np.random.default_rng(0).uniform(size=(2, 3, 16, 16, 1)).astype("float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (2, 2, 16, 16, 1) and 0.0 <= y.min() and y.max() <= 1.0
    longer = rollout(model, x, 5)
    assert longer.shape == (2, 5, 16, 16, 1)
    np.testing.assert_allclose(longer[:, :2], y, atol=1e-6)
    np.testing.assert_allclose(longer[:, 2:4], model.predict(np.concatenate([x, y], 1)[:, -3:], verbose=0), atol=1e-5)
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path, safe_mode=True).predict(x, verbose=0), y, atol=1e-6)


def test_patches_are_cut_and_put_back_exactly():
    import keras

    from keras_recurrent.tasks.video.models import from_patches, to_patches

    info = {"frame_shape": [8, 12, 3]}
    inputs = keras.Input((2, 8, 12, 3))
    patched = to_patches(inputs, 2, info, 4)
    model = keras.Model(inputs, [patched, from_patches(patched, 2, info, 4)])
    x = np.random.default_rng(1).normal(size=(1, 2, 8, 12, 3)).astype("float32")
    p, back = model.predict(x, verbose=0)
    assert p.shape == (1, 2, 2, 3, 48)
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(p[0, 1, 1, 2].reshape(4, 4, 3), x[0, 1, 4:8, 8:12])  # one patch, whole
    with pytest.raises(UserError, match="patch_size=5"):
        MODELS["convlstm"](VideoModel(patch_size=5), dict(SMALL))


def test_scores_match_their_definitions():
    rng = np.random.default_rng(2)
    truth = (rng.uniform(size=(3, 2, 12, 12, 1)) > 0.7).astype("float32")
    predicted = rng.uniform(0.05, 0.95, size=truth.shape).astype("float32")
    scores = frame_scores(truth, predicted)
    mse = ((truth - predicted) ** 2).mean(axis=(2, 3, 4))
    np.testing.assert_allclose(scores["mse"], mse, rtol=1e-6)
    np.testing.assert_allclose(scores["psnr"], 10 * np.log10(1 / mse), rtol=1e-6)
    bce = -(truth * np.log(predicted) + (1 - truth) * np.log(1 - predicted)).sum(axis=(2, 3, 4))
    np.testing.assert_allclose(scores["cross_entropy"], bce, rtol=1e-5)
    same = frame_scores(truth, truth)
    np.testing.assert_allclose(same["ssim"], 1.0, atol=1e-6)
    assert (scores["ssim"] < 0.9).all()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return verbs.train("video", quick=True, quiet=True, run_dir=str(tmp_path_factory.mktemp("video") / "run"))


def test_quick_run_scores_plots_and_animates(run):
    m = run.metrics
    # The summary line leads with the task's headline and names its baseline (it showed none before).
    line = verbs.summary_line(m, get_task("video").headline)
    assert line.startswith("mse=") and "baseline[copy_last_frame]=" in line
    assert m["test_clips"] == 8 and set(m["by_frame"]) == {"mse", "psnr", "ssim", "cross_entropy"}
    assert len(m["by_frame"]["mse"]) == 2 and m["mse"] == pytest.approx(np.mean(m["by_frame"]["mse"]))
    assert m["cross_entropy_per_sequence"] == pytest.approx(sum(m["by_frame"]["cross_entropy"]))
    assert "copy_last_frame" in m["baselines"] and m["baselines"]["copy_last_frame"]["mse"] > 0
    plots = set(os.listdir(os.path.join(run.path, "plots")))
    assert {"frames.png", "scores_by_frame.png", "learning_curves.png", "clip_1.gif"} <= plots
    from PIL import Image

    with Image.open(os.path.join(run.path, "plots", "clip_1.gif")) as gif:
        assert gif.n_frames == 5  # 3 input frames, then 2 predicted beside the truth


def test_evaluate_rolls_out_a_longer_horizon(run, capsys):
    assert main(["evaluate", run.path, "--set", "data.output_frames=4"]) == 0
    written = os.path.join(run.path, "evaluations", "data.output_frames=4")
    metrics = json.loads(open(os.path.join(written, "metrics.json")).read())
    assert len(metrics["by_frame"]["mse"]) == 4
    capsys.readouterr()
    assert main(["evaluate", run.path, "--set", "data.frame_size=32", "--set", "data.digit_size=8"]) == 2
    assert "frames of" in capsys.readouterr().err


def test_predict_writes_frames_beside_each_clip_and_checks_them_first(run, tmp_path, capsys):
    clip = digits.clip(3, "test", 1, 6, 16, 1, 3.0, 8)
    np.save(tmp_path / "a.npy", (clip[..., 0] * 255).astype(np.uint8))  # grey, no channel axis, 0..255
    rows = verbs.predict(run.path, [str(tmp_path / "a.npy")])
    assert rows[0]["frames_predicted"] == 2
    predicted = np.load(tmp_path / "a.predicted.npy")
    assert predicted.shape == (2, 16, 16, 1)
    assert os.path.isfile(tmp_path / "a.predicted.gif")
    np.save(tmp_path / "b.npy", np.zeros((6, 8, 8), np.float32))
    capsys.readouterr()
    assert main(["predict", run.path, str(tmp_path / "c_missing.npy")]) == 2
    assert main(["predict", run.path, str(tmp_path / "b.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "no such clip file" in err[0] and "frames of 8x8x1; the model reads 16x16x1" in err[1]
    assert not os.path.exists(tmp_path / "b.predicted.npy")


def test_predict_never_replaces_a_file_the_user_did_not_name(run, tmp_path, capsys):
    clip = (digits.clip(3, "test", 1, 6, 16, 1, 3.0, 8)[..., 0] * 255).astype(np.uint8)
    np.save(tmp_path / "clip.npy", clip)
    (tmp_path / "clip.predicted.npy").write_bytes(b"mine")  # the user's own file of that name
    assert main(["predict", run.path, str(tmp_path / "clip.npy")]) == 0
    assert (tmp_path / "clip.predicted.npy").read_bytes() == b"mine"
    # A fresh number for both files of the input, even where only one name was taken.
    assert np.load(tmp_path / "clip.predicted-2.npy").shape == (2, 16, 16, 1)
    assert os.path.isfile(tmp_path / "clip.predicted-2.gif") and not os.path.exists(tmp_path / "clip.predicted.gif")
    assert "clip.predicted-2.npy" in capsys.readouterr().out
    # Two inputs of one stem would write the same files: refused before either is written.
    _write_gif(tmp_path / "clip.gif", clip / 255.0)
    before = sorted(os.listdir(tmp_path))
    assert main(["predict", run.path, str(tmp_path / "clip.npy"), str(tmp_path / "clip.gif")]) == 2
    assert "would both be written to" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before
    # --output-dir: an existing file there is an error unless --overwrite.
    out = tmp_path / "out"
    assert main(["predict", run.path, str(tmp_path / "clip.npy"), "--output-dir", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["clip.predicted.gif", "clip.predicted.npy"]
    (out / "clip.predicted.npy").write_bytes(b"kept")
    assert main(["predict", run.path, str(tmp_path / "clip.npy"), "--output-dir", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and (out / "clip.predicted.npy").read_bytes() == b"kept"
    assert main(["predict", run.path, str(tmp_path / "clip.npy"), "--output-dir", str(out), "--overwrite"]) == 0
    assert np.load(out / "clip.predicted.npy").shape == (2, 16, 16, 1)


def _write_gif(path, frames):
    from PIL import Image

    images = [Image.fromarray((f * 255).astype(np.uint8)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], loop=0)


def test_a_directory_of_arrays_and_gifs_trains(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(4):
        np.save(folder / f"clip{i}.npy", digits.clip(0, "train", i, 10, 16, 1, 2.0, 8))
    np.savez(folder / "more.npz", a=digits.clip(0, "train", 9, 5, 16, 1, 2.0, 8))
    _write_gif(folder / "moving.gif", digits.clip(0, "validation", 0, 5, 16, 1, 2.0, 8)[..., 0])
    clips = sources.read_directory(str(folder))
    assert len(clips) == 6 and all(c.shape[1:] == (16, 16, 1) for c in clips)
    config = TASK.DataConfig(input_frames=3, output_frames=2)
    data = TASK.load(str(folder), config, seed=0)
    counts = [sum(1 for _ in ds) for ds in (data.train, data.validation, data.test)]
    assert sum(counts) == 4 * 2 + 1 + 1 and min(counts) >= 1  # two 5-frame windows from each 10-frame clip
    assert data.info["frame_shape"] == [16, 16, 1]


@pytest.mark.parametrize("files,message", [
    ({"a.npy": np.zeros((6, 16, 16)), "b.npy": np.zeros((6, 8, 8))}, "every clip needs the same size"),
    ({"a.npy": np.zeros((6, 16, 16, 2))}, "2 channels; expected 1 (grey) or 3 (RGB)"),
    ({"a.npy": np.zeros((3, 16, 16)), "b.npy": np.zeros((4, 16, 16)), "c.npy": np.zeros((2, 16, 16))},
     "the longest clip has 4 frames; the model needs 5"),
    ({"a.npy": np.full((6, 16, 16), 2.0)}, "float pixel values must lie in [0, 1]"),
    ({"a.npy": np.full((6, 16, 16), 300, np.int32)}, "integer pixel values must lie in 0..255"),
    ({"a.npy": np.zeros((6, 16))}, "expected frames x rows x columns"),
    ({"a.gif": b"GIF89a-not-really"}, "not a readable GIF"),
    ({"a.txt": b"hello"}, "no .npy, .npz, .gif files"),
])
def test_bad_clips_are_one_line_errors_and_nothing_is_written(files, message, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            np.save(folder / name, content)
    capsys.readouterr()
    code = main(["train", "video", "--quick", "--data", str(folder), "--set", "data.input_frames=3",
                 "--set", "data.output_frames=2", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_moving_mnist_through_tfds_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=10):
        data = TASK.load("tfds:moving_mnist", TASK.DataConfig(input_frames=10, output_frames=10), seed=0)
    counts = [sum(1 for _ in ds) for ds in (data.train, data.validation, data.test)]
    assert counts == [8, 1, 1] and data.info["frame_shape"] == [64, 64, 1]
    inputs, future = next(iter(data.train))
    assert inputs.shape == (10, 64, 64, 1) and future.shape == (10, 64, 64, 1)
    with pytest.raises(UserError, match="not a video source"):
        TASK.load("tfds:mnist", TASK.DataConfig(), seed=0)


@pytest.mark.slow
def test_real_moving_mnist_loader_without_network_is_one_line(tmp_path):
    """No mock: tensorflow-datasets' own download path runs, finds no network, and the user gets one line."""
    import subprocess
    import sys

    from test_sentiment_data import NETWORK_BLOCKED

    done = subprocess.run([sys.executable, "-c", NETWORK_BLOCKED, "train", "video", "--data", "tfds:moving_mnist",
                           "--set", f"data.tfds_dir={tmp_path / 'tfds'}", "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and last.startswith("recurrent: error: --data tfds:moving_mnist: could not download")
    assert not (tmp_path / "run").exists()
