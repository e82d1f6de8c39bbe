"""The captioning task: generated scenes and their held-out pairs, the attention layer against NumPy, a causal
model, beam search against an exhaustive search, the Flickr8k layout (and the real subset), COCO through tfds
mock data, a quick run's scores and pictures, predict on image files of any mode, and one-line errors."""

import itertools
import json
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.captioning import decoding, metrics, scenes, sources
from keras_recurrent.tasks.captioning.models import CaptioningModel, build_cnn_bilstm

TASK = get_task("captioning")
SMALL = CaptioningModel(filters=4, grid=4, encoder_units=8, units=16, embedding_dim=8, attention_units=8)


def _info(words=("red", "circle", "a"), max_length=5, size=16):
    return {"vocabulary": ["<pad>", "<unk>", "<start>", "<end>", *words], "image_size": size, "max_length": max_length}


def _randomised(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype(w.dtype))
    return model


def test_scenes_are_deterministic_and_hold_the_unseen_pairs_out_of_training():
    a, b = scenes.scene(3, "train", 5, 32, 3), scenes.scene(3, "train", 5, 32, 3)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert not np.array_equal(a[0], scenes.scene(4, "train", 5, 32, 3)[0])
    assert a[0].shape == (32, 32, 3) and a[0].dtype == np.uint8
    for split in ("train", "validation", "test_seen", "test"):
        for i in range(40):
            _, refs, objects = scenes.scene(0, split, i, 16, 3)
            unseen = [(colour, kind) in scenes.HELD_OUT for _, colour, kind in objects]
            assert any(unseen) == (split == "test"), (split, objects)
            assert 1 <= len(objects) <= 3 and len(refs) >= 3
            for ref in refs:  # every reference names every shape's size, colour and kind
                for size, colour, kind in objects:
                    assert f"{size} {colour} {kind}" in ref
    # Held-out pairs: each colour and each kind still appears in training, in other pairs.
    seen = {(c, k) for i in range(300) for _, c, k in scenes.scene(0, "train", i, 16, 3)[2]}
    assert {c for c, _ in seen} == set(scenes.COLOURS) and {k for _, k in seen} == set(scenes.KINDS)


@pytest.mark.parametrize("decoder,attention", [("lstm", True), ("lstm", False), ("gru", True), ("sru", True)])
def test_the_model_is_causal_so_decoding_can_read_one_step_at_a_time(decoder, attention):
    info = _info()
    config = CaptioningModel(**{**SMALL.__dict__, "decoder": decoder, "attention": attention, "dropout": 0.0})
    model = _randomised(build_cnn_bilstm(config, info))
    image = np.random.default_rng(1).random((1, 16, 16, 3)).astype("f")
    words = np.array([[2, 4, 5, 6, 3, 0]], np.int32)
    changed = words.copy()
    changed[0, 3:] = [5, 4, 4]
    a, b = model.predict([image, words], verbose=0), model.predict([image, changed], verbose=0)
    np.testing.assert_allclose(a[0, :3], b[0, :3], atol=1e-5)  # steps 0..2 read words_in[:3], unchanged
    assert not np.allclose(a[0, 3], b[0, 3], atol=1e-4)
    encoder, decoder_model = decoding.parts(model)
    assert len(decoder_model.outputs) == (2 if attention else 1)
    other = image[:, ::-1].copy()  # the image matters
    assert not np.allclose(model.predict([other, words], verbose=0)[0, 0], a[0, 0], atol=1e-5)


def _log_probability(model, image, caption):
    steps = model.inputs[1].shape[1]
    words = np.zeros((1, steps), np.int32)
    words[0, : len(caption) + 1] = [2, *caption]
    logits = model.predict([image, words], verbose=0)[0].astype(np.float64)
    log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    targets = [*caption, 3]
    return sum(log_p[t, w] for t, w in enumerate(targets))


def test_beam_search_finds_the_most_probable_caption_and_width_one_is_greedy():
    info = _info(words=("red", "circle"), max_length=3)
    model = _randomised(build_cnn_bilstm(CaptioningModel(**{**SMALL.__dict__, "dropout": 0.0}), info), seed=3, scale=1.0)
    images = np.random.default_rng(2).random((3, 16, 16, 3)).astype("f")
    beam, beam_scores = decoding.beam_search(model, images, width=40, return_scores=True)
    greedy, attention = decoding.greedy(model, images)
    assert decoding.beam_search(model, images, width=1) == greedy
    assert attention.shape[0] == 3 and attention.shape[-1] == 16 and np.allclose(attention.sum(-1), 1, atol=1e-4)
    choices = [4, 5]  # red, circle: <pad>, <unk> and <start> are never written
    captions = [list(c) for k in range(4) for c in itertools.product(choices, repeat=k)]
    for i in range(3):
        scores = [_log_probability(model, images[i:i + 1], c) for c in captions]
        best = captions[int(np.argmax(scores))]
        assert beam[i] == best, (i, beam[i], best)
        assert beam_scores[i] == pytest.approx(max(scores), abs=1e-4)  # what beam search summed is the model's
        assert max(scores) >= _log_probability(model, images[i:i + 1], greedy[i]) - 1e-9


def test_bleu_is_nltks_corpus_bleu_and_the_baselines_are_what_they_say():
    refs = [[["a", "big", "red", "circle"], ["one", "red", "circle"]], [["a", "blue", "square", "here"]]]
    perfect = metrics.scores([["a", "big", "red", "circle"], ["a", "blue", "square", "here"]], refs)
    assert perfect["bleu_4"] == 1.0 and perfect["exact_match"] == 1.0
    half = metrics.scores([["a", "big", "red", "circle"], ["blue", "a"]], refs)
    assert half["exact_match"] == 0.5 and 0 < half["bleu_1"] < 1 and half["bleu_4"] < perfect["bleu_4"]
    # By hand: 6 hypothesis words, 6 clipped unigram matches; lengths 6 vs closest references 4 + 4 = 8.
    assert half["bleu_1"] == pytest.approx(np.exp(1 - 8 / 6), rel=1e-6)
    train = [[["a", "dog", "runs"], ["a", "dog", "runs"]], [["a", "cat", "sits"]], [["a", "cat", "sits"]],
             [["the", "dog"]]]
    assert metrics.most_frequent_caption(train) in (["a", "dog", "runs"], ["a", "cat", "sits"])
    assert metrics.most_frequent_caption([[["a", "dog"]], [["the", "zebra"]], [["a", "cat"]]]) == ["a", "dog"]


def _write_flickr(folder, names, captions_per_image=2, missing=(), empty=0, splits=True, csv=False):
    from PIL import Image

    (folder / "Images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(folder / "Images" / name)
    lines = []
    for name in list(names) + list(missing):
        for k in range(captions_per_image):
            lines.append((name, f"A photo number {name[:-4]} with caption {k} ."))
    lines += [(names[0], "  ")] * empty
    if csv:
        (folder / "captions.txt").write_text("image,caption\n" + "".join(f"{n},\"{c}\"\n" for n, c in lines))
    else:
        text = "".join(f"{n}#{k % 5}\t{c}\n" for k, (n, c) in enumerate(lines))
        (folder / "Flickr8k.token.txt").write_text(text)
    if splits:
        thirds = len(names) // 3
        for split, chosen in (("train", names[:thirds]), ("dev", names[thirds:2 * thirds]), ("test", names[2 * thirds:])):
            (folder / f"Flickr_8k.{split}Images.txt").write_text("".join(f"{n}\n" for n in chosen))


def test_flickr_layout_reads_splits_and_counts_what_it_leaves_out(tmp_path, capsys):
    names = [f"{i:04d}.jpg" for i in range(9)]
    _write_flickr(tmp_path / "f", names, missing=("gone1.jpg", "gone2.jpg"), empty=2)
    (tmp_path / "f" / "Images" / "broken.jpg").write_bytes(b"not an image")
    capsys.readouterr()
    splits, facts = sources.read_flickr(str(tmp_path / "f"), 32, seed=0)
    err = capsys.readouterr().err
    assert "2 of 11 images named in the captions file are not in the folder (first: gone1.jpg, gone2.jpg)" in err
    assert "2 empty caption(s) left out" in err
    assert [len(splits[s].references) for s in ("train", "validation", "test")] == [3, 3, 3]
    assert splits["train"].images.shape == (3, 32, 32, 3) and facts["images_missing"] == 2
    assert all(len(r) == 2 for r in splits["test"].references) and facts["splits"] == "official split files"
    # The CSV layout, no split files: 80 / 10 / 10 by image from the seed.
    _write_flickr(tmp_path / "g", names + ["0009.jpg"], csv=True, splits=False)
    splits, facts = sources.read_flickr(str(tmp_path / "g"), 16, seed=0)
    assert [len(splits[s].references) for s in ("train", "validation", "test")] == [8, 1, 1]
    data = TASK.load(str(tmp_path / "g"), TASK.DataConfig(image_size=16, min_count=1), seed=0)
    assert data.info["sizes"] == {"train": 8, "validation": 1, "test": 1} and "photo" in data.info["vocabulary"]
    (image, words_in), words_out, weights = next(iter(data.train))
    assert image.shape == (16, 16, 3) and float(np.max(image)) <= 1.0
    assert words_in[0] == decoding.START and int(np.sum(weights)) == int(np.sum(np.asarray(words_out) > 0))
    end = int(np.sum(weights)) - 1
    assert words_out[end] == decoding.END and np.array_equal(words_in[1:end + 1], words_out[:end])


@pytest.mark.parametrize("content,message", [
    ("image,text\na.jpg,hello\n", "a CSV with columns image,caption (found columns 'image', 'text')"),
    ("a.jpg#0 no tab here\n", "IMAGE#N<TAB>CAPTION lines or a CSV"),
    ("zzz.jpg#0\ta caption\n", "none of the 1 images named in the captions file is in the folder"),
    ("a.jpg#0\t   \n", "no captions found"),
])
def test_bad_captions_files_are_one_line_errors(content, message, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "data"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "a.jpg")
    (folder / "captions.txt").write_text(content)
    capsys.readouterr()
    code = main(["train", "captioning", "--quick", "--data", str(folder), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err
    assert not (tmp_path / "run").exists()


def test_the_shared_flickr8k_subset_reads_with_its_official_splits(capsys):
    from conftest import SHARED_DATA

    folder = SHARED_DATA / "flickr8k_subset"
    if not folder.is_dir():
        pytest.skip("../shared/data/flickr8k_subset is not beside the project")
    splits, facts = sources.read_flickr(str(folder), 32, seed=0, wanted=("test",))
    assert len(splits["test"].references) == 125 and all(len(r) == 5 for r in splits["test"].references)
    # 8,092 images and the token file's odd '2258277193_586949ec62.jpg.1' entry (SOURCE.md), none in the subset.
    assert facts["images_missing"] == 8093 - 1000 and facts["images_in_no_split"] == 9
    assert "7093 of 8093 images named in the captions file are not in the folder" in capsys.readouterr().err


def test_coco_captions_through_tfds_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        data = TASK.load("tfds:coco_captions", TASK.DataConfig(image_size=32, min_count=1), seed=0)
    assert data.info["sizes"] == {"train": 4, "validation": 4, "test": 4}
    (image, words_in), _, _ = next(iter(data.test))
    assert image.shape == (32, 32, 3) and words_in[0] == decoding.START
    with pytest.raises(UserError, match="not a captioning source"):
        TASK.load("tfds:mnist", TASK.DataConfig(), seed=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return verbs.train("captioning", quick=True, quiet=True, set=["model.beam_width=2"],
                       run_dir=str(tmp_path_factory.mktemp("captioning") / "run"))


def test_quick_run_scores_beside_its_baselines_and_draws(run):
    m = run.metrics
    assert m["test_images"] == 6 and m["decoding"] == "beam search (width 2)" and 0 < m["distinct_captions"] <= 1
    for scores in (m, m["greedy"], m["test_seen"], *m["baselines"].values()):
        assert {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "exact_match"} <= set(scores)
        assert all(0.0 <= scores[f"bleu_{n}"] <= 1.0 for n in range(1, 5))
    assert set(m["baselines"]) == {"most_frequent_caption", "nearest_training_image"}
    info = json.loads(open(os.path.join(run.path, "data_info.json")).read())
    assert info["vocabulary"][:4] == ["<pad>", "<unk>", "<start>", "<end>"] and "circle" in info["vocabulary"]
    assert len(info["held_out_pairs"]) == len(scenes.HELD_OUT)
    assert {"captions.png", "attention.png", "learning_curves.png"} <= set(os.listdir(os.path.join(run.path, "plots")))
    # No caption longer than data.max_length (the decoder's last step is for <end>).
    longest = info["max_length"]
    assert m["mean_length"] <= longest and m["greedy"]["mean_length"] <= longest
    task, config, _, model = verbs.load_run(run.path)
    images = np.stack([scenes.scene(0, "test", i, info["image_size"], 2)[0] for i in range(4)])
    assert all(len(words) <= longest for words in task.caption(model, images, info, 1) + task.caption(model, images, info, 3))


def test_predict_captions_image_files_of_any_mode(run, tmp_path, capsys):
    from PIL import Image

    image, _, _ = scenes.scene(0, "test", 0, 40, 2)
    Image.fromarray(image).save(tmp_path / "rgb.jpg")
    Image.fromarray(image).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(image).convert("RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(image).convert("P").save(tmp_path / "palette.gif")
    paths = [str(tmp_path / n) for n in ("rgb.jpg", "grey.png", "alpha.png", "palette.gif")]
    capsys.readouterr()
    assert main(["predict", run.path, *paths, "--output", str(tmp_path / "out.jsonl")]) == 0
    rows = [json.loads(line) for line in open(tmp_path / "out.jsonl")]
    assert [r["image"] for r in rows] == paths and all(isinstance(r["caption"], str) for r in rows)
    (tmp_path / "bad.jpg").write_bytes(b"\x89PNG not really")
    assert main(["predict", run.path, str(tmp_path / "bad.jpg")]) == 2
    assert main(["predict", run.path, str(tmp_path / "none.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].endswith("bad.jpg: not a readable image (UnidentifiedImageError)") and "no such image file" in err[-1]


def test_evaluate_with_another_beam_and_refuses_another_image_size(run, capsys):
    metrics_path = os.path.join(run.path, "evaluations", "model.beam_width=1", "metrics.json")
    assert main(["evaluate", run.path, "--set", "model.beam_width=1"]) == 0
    metrics = json.loads(open(metrics_path).read())
    assert metrics["decoding"] == "greedy" and "greedy" not in metrics
    assert set(metrics["baselines"]) == {"most_frequent_caption", "nearest_training_image"}
    capsys.readouterr()
    assert main(["evaluate", run.path, "--set", "data.image_size=32"]) == 2
    assert "data.image_size=32: the model was trained with 16" in capsys.readouterr().err


def test_a_grid_the_small_cnn_cannot_make_is_a_one_line_error(tmp_path, capsys):
    code = main(["train", "captioning", "--quick", "--set", "model.grid=3", "--run-dir", str(tmp_path / "run")])
    assert code == 2 and "model.grid=3: the small CNN halves data.image_size=16" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_keras_applications_backbone_reads_local_weights_or_none(tmp_path):
    import keras

    info = _info(size=32)
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None, alpha=1.0)
    _randomised(backbone, seed=4, scale=0.1)
    path = str(tmp_path / "mobilenet_v2.weights.h5")
    backbone.save_weights(path)
    config = CaptioningModel(**{**SMALL.__dict__, "backbone": "mobilenet_v2", "backbone_weights": path,
                                "train_backbone": False})
    model = build_cnn_bilstm(config, info)
    loaded = next(layer for layer in model.get_layer("image_encoder").layers if isinstance(layer, keras.Model))
    assert not loaded.trainable and loaded.output.shape[1:3] == (1, 1)  # 32 / 32: MobileNetV2's grid
    for a, b in zip(loaded.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.predict([np.zeros((1, 32, 32, 3), "f"), np.zeros((1, 6), "int32")], verbose=0).shape == (1, 6, 7)
    with pytest.raises(UserError, match="model.backbone_weights=.*missing.h5: no such file"):
        build_cnn_bilstm(CaptioningModel(backbone="efficientnet_b0", backbone_weights=str(tmp_path / "missing.h5")), info)


@pytest.mark.slow
def test_real_coco_loader_without_network_is_one_line(tmp_path):
    """No mock: tensorflow-datasets' own download path runs, finds no network, and the user gets one line."""
    import subprocess
    import sys

    from test_sentiment_data import NETWORK_BLOCKED

    done = subprocess.run([sys.executable, "-c", NETWORK_BLOCKED, "train", "captioning", "--data", "tfds:coco_captions",
                           "--set", f"data.tfds_dir={tmp_path / 'tfds'}", "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("recurrent: error:")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("recurrent: error: --data tfds:coco_captions: could not download")
    assert not (tmp_path / "run").exists()


def test_the_exported_savedmodel_writes_captions_without_python(run, tmp_path):
    import tensorflow as tf

    assert main(["export", run.path, "--format", "savedmodel", "--quiet"]) == 0
    report = json.loads(open(os.path.join(run.path, "export", "savedmodel.json")).read())
    assert report["caption"]["agreement"] == 1.0 and report["caption"]["max_abs_diff"] == 0.0
    reloaded = tf.saved_model.load(os.path.join(run.path, "export", "savedmodel"))
    image, _, _ = scenes.scene(0, "test", 1, 16, 2)
    out = reloaded.caption(tf.constant(image[None]))
    from keras_recurrent.pipelines.verbs import load_run

    task, config, info, model = load_run(run.path)
    expected = " ".join(info["vocabulary"][i] for i in decoding.greedy(model, image[None])[0][0])
    assert out["caption"].numpy()[0].decode() == expected


def test_the_tflite_caption_model_decodes_in_its_graph(run, tmp_path):
    """The `caption` signature as a TFLite model (ids out): the same tokens as Python's greedy decoding.
    The quick run's weights are perturbed first, so that its captions differ from image to image."""
    import shutil

    from keras_recurrent.pipelines.exporting import interpreter

    copied = shutil.copytree(run.path, tmp_path / "run")
    _, _, info, model = verbs.load_run(str(copied))
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(copied / "model.keras")
    assert main(["export", str(copied), "--format", "tflite", "--quiet"]) == 0
    report = json.loads((copied / "export" / "model.tflite.json").read_text())["caption"]
    assert report["agreement"] == 1.0 and "WHILE" in report["ops"]
    caption = interpreter(open(report["path"], "rb").read()).get_signature_runner("caption")
    images = np.stack([scenes.scene(0, "test", i, info["image_size"], 2)[0] for i in range(6)])
    expected, _ = decoding.greedy(model, images)
    got = [caption(images=image[None])["tokens"][0] for image in images]
    for have, want in zip(got, expected):
        assert list(have[: len(want)]) == list(want) and not have[len(want):].any()
    assert len({tuple(t) for t in got}) > 1  # captions that depend on the image
