"""Sentiment loaders: every --data form, label handling, encodings, mocked tfds, the real polarity data."""

import os

import numpy as np
import pytest

from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.sentiment import SentimentData
from keras_recurrent.tasks.sentiment import data as sdata
from keras_recurrent.tasks.sentiment.data import TFDS_SOURCES


@pytest.fixture(scope="module")
def task():
    return get_task("sentiment")


def config(**kwargs):
    return SentimentData(**kwargs)


def test_csv_with_named_columns(task, csv_file):
    data = task.load(csv_file, config(text_column="review", label_column="sentiment"), seed=0)
    sizes = data.info["sizes"]
    assert sum(sizes.values()) == 60 and min(sizes.values()) > 0
    x, y = next(iter(data.train))
    assert x.shape == (data.info["sequence_length"],) and float(y) in (0.0, 1.0)
    # pos -> 1 whatever the sorting of the label names
    texts, labels = data.extras["train"]
    assert all((label == 1) == ("good" in text) for text, label in zip(texts, labels))


def test_tsv(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("text\tlabel\na good film\t1\na bad film\t0\n", encoding="utf-8")
    assert sdata.read_table(str(path), "text", "label", "utf-8") == (["a good film", "a bad film"], [1, 0])


def test_missing_column(task, csv_file):
    with pytest.raises(UserError, match="no column 'text' \\(columns: 'review', 'sentiment'\\)"):
        task.load(csv_file, config(), seed=0)


def test_three_classes(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\na,pos\nb,neg\nc,neutral\n")
    with pytest.raises(UserError, match="label column 'label' has 3 classes \\('neg', 'neutral', 'pos'\\)"):
        sdata.read_table(str(path), "text", "label", "utf-8")


def test_empty_csv(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\n")
    with pytest.raises(UserError, match="no examples"):
        sdata.read_table(str(path), "text", "label", "utf-8")


def test_one_class_only(task, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\n" + "".join(f"good {i},1\n" for i in range(20)))
    with pytest.raises(UserError, match="same label"):
        task.load(str(path), config(), seed=0)


def test_aclimdb_layout_keeps_its_test_split(task, imdb_dir):
    data = task.load(imdb_dir, config(), seed=0)
    assert data.info["sizes"]["test"] == 12
    assert data.info["sizes"]["train"] + data.info["sizes"]["validation"] == 40


def test_subsets_are_drawn_at_random_not_from_the_top():
    """Directory sources list one class after the other; a subset must not take the first rows."""
    texts, labels = [f"t{i}" for i in range(100)], [0] * 50 + [1] * 50
    sub_texts, sub_labels = sdata.random_subset((texts, labels), 10, np.random.default_rng(0))
    assert len(sub_texts) == 10 and set(sub_labels) == {0, 1}
    assert sub_texts == sorted(sub_texts, key=lambda t: int(t[1:]))  # original order kept
    assert sdata.random_subset((texts, labels), 500, np.random.default_rng(0)) == (texts, labels)


def test_aclimdb_without_split(task, imdb_dir):
    data = task.load(imdb_dir + "/train", config(), seed=0)
    assert sum(data.info["sizes"].values()) == 40


def test_not_utf8_names_the_file_and_the_option(task, cp1252_lines_dir):
    with pytest.raises(UserError, match=r"tiny\.pos:4: byte 0x85 .* not valid utf-8; pass --encoding"):
        task.load(cp1252_lines_dir, config(), seed=0)
    data = task.load(cp1252_lines_dir, config(encoding="cp1252"), seed=0)
    assert sum(data.info["sizes"].values()) == 60
    assert any("\u2026" in t for t in data.extras["train"][0] + data.extras["test"][0])


def test_unknown_encoding(task, cp1252_lines_dir):
    with pytest.raises(UserError, match="unknown text encoding"):
        task.load(cp1252_lines_dir, config(encoding="klingon"), seed=0)


def test_bad_paths(task, tmp_path):
    with pytest.raises(UserError, match="no such file or directory"):
        task.load(str(tmp_path / "nope"), config(), seed=0)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="expected a .csv or .tsv"):
        task.load(str(tmp_path / "notes.txt"), config(), seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="layout not recognised"):
        task.load(str(tmp_path / "empty"), config(), seed=0)


def test_vocabulary_from_training_split_only(task, tmp_path):
    rows = ["text,label"] + [f"good film {i},1" for i in range(30)] + [f"bad film {i},0" for i in range(30)]
    rows += ["zebra,1", "zebra,0"]  # two rare rows: wherever they land, the vocabulary must not peek
    path = tmp_path / "r.csv"
    path.write_text("\n".join(rows))
    data = task.load(str(path), config(test_fraction=0.2), seed=0)
    train_words = {w for t in data.extras["train"][0] for w in t.split()}
    assert set(data.info["vocabulary"][2:]) <= train_words


def test_split_is_fixed_by_the_seed(task):
    a = task.load(None, config(num_examples=200), seed=5)
    b = task.load(None, config(num_examples=200), seed=5)
    assert a.extras["test"] == b.extras["test"] and a.info == b.info
    c = task.load(None, config(num_examples=200), seed=6)
    assert a.extras["test"] != c.extras["test"]


@pytest.mark.parametrize("name", ["imdb_reviews", "glue/sst2"])
def test_tfds_sources_with_mock_data(task, name):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
        data = task.load(f"tfds:{name}", config(), seed=0)
    assert data.info["source"] == f"tfds:{name}"
    assert data.info["sizes"]["test"] == 20
    assert data.info["sizes"]["train"] + data.info["sizes"]["validation"] == 20


def test_tfds_unknown_name(task):
    with pytest.raises(UserError, match="not a sentiment source"):
        task.load("tfds:mnist", config(), seed=0)


def test_real_polarity_data(polarity_dir):
    with pytest.raises(UserError, match="not valid utf-8"):
        sdata.read_line_files(polarity_dir, "utf-8")
    texts, labels = sdata.read_line_files(polarity_dir, "cp1252")
    # 5,331 lines a class; splitting bytes on b"\n" (not str.splitlines) keeps U+0085 inside lines.
    assert len(texts) == 10662 and np.sum(labels) == 5331


def test_auto_sequence_length():
    assert sdata.auto_sequence_length([3] * 100) == 8
    assert sdata.auto_sequence_length(list(range(1, 101))) == 96
    assert sdata.auto_sequence_length([1000] * 10) == 256


NETWORK_BLOCKED = """
import socket, sys
def refuse(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "name resolution blocked by the test")
socket.getaddrinfo = refuse
socket.socket.connect = lambda self, address: (_ for _ in ()).throw(ConnectionRefusedError("network blocked by the test"))
from keras_recurrent.pipelines.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TFDS_SOURCES))
def test_real_tfds_builder_without_network_is_one_line(name, tmp_path):
    """No mock: tensorflow-datasets' own download path runs, finds no network, and the user gets one line."""
    import subprocess
    import sys

    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", NETWORK_BLOCKED, "train", "sentiment", "--data", f"tfds:{name}",
         "--set", f"data.tfds_dir={tmp_path / 'tfds'}", "--run-dir", str(run)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("recurrent: error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert f"tfds:{name}: could not download or prepare" in lines[0] and "data.tfds_dir" in lines[0]
    assert not run.exists()


def test_character_tokens_read_spelling_and_export_with_their_splitting(tmp_path):
    """data.tokens=chars: one token a character (punctuation kept), a length in characters, and an exported
    raw-text endpoint that splits as training did (serve_text equals the Keras model on the examples)."""
    import json

    from keras_recurrent import pipelines

    run = pipelines.train("sentiment", run_dir=str(tmp_path / "chars"), quick=True, quiet=True,
                          set=["data.tokens=chars"])
    info = json.loads((tmp_path / "chars" / "data_info.json").read_text())
    assert info["tokens"] == "chars" and {" ", ","} <= set(info["vocabulary"])
    assert all(len(token) == 1 for token in info["vocabulary"][2:])
    assert info["sequence_length"] > 40  # the generated reviews are 5-20 words long
    from keras_recurrent.tasks.sentiment import make_vectorizer

    ids = np.asarray(make_vectorizer(info)(np.asarray(["not bad"], dtype=object)))[0]
    assert np.count_nonzero(ids) == 7 and 1 not in ids  # a run's vectorizer splits as it was adapted: 7 known characters
    rows = pipelines.predict(run.path, ["not bad at all!", "Zzyzx?"])
    assert [r["text"] for r in rows] == ["not bad at all!", "Zzyzx?"]
    report = pipelines.export(run.path, format="savedmodel", quiet=True)
    assert report["serve_text"]["max_abs_diff"] <= 1e-5


def test_byte_pair_merges_follow_sennrich_on_the_papers_example():
    """Sennrich et al. 2016's toy vocabulary: the most frequent pair first, ties to the first in sorted order."""
    from keras_recurrent.tasks.bpe import encode, learn_merges

    counts = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    merges = learn_merges(counts, 10)
    # (e, s) and (s, t</w>) both occur 9 times; then (es, t</w>) 9; (l, o) 7; then pairs at 6, sorted.
    assert merges[:5] == [["e", "s"], ["es", "t</w>"], ["l", "o"], ["e", "w"], ["ew", "est</w>"]]
    assert encode("newest", merges) == ["newest</w>"] and encode("low", merges) == ["low</w>"]
    assert encode("lowest", merges) == ["lo", "w", "est</w>"] and encode("xy", merges) == ["x", "y</w>"]
    assert len(learn_merges(counts, 1000)) < 1000  # stops when every word is one symbol


def test_byte_pair_split_in_the_graph_equals_the_python_encoding():
    """Unknown words go through the in-graph merge loop; regex metacharacters and non-ASCII stay literal."""
    import tensorflow as tf

    from keras_recurrent.tasks.bpe import BytePairSplit, encode, learn_merges

    rng = np.random.default_rng(0)
    letters = list("abcde.*+?()[]\\^$|é")
    corpus = {"".join(rng.choice(letters, rng.integers(1, 8))): int(rng.integers(1, 20)) for _ in range(300)}
    merges = learn_merges(corpus, 150)
    unseen = ["".join(rng.choice(letters, rng.integers(1, 12))) for _ in range(200)]
    known = list(corpus)[:100]
    split = BytePairSplit(merges, words=known)
    texts = [" ".join(unseen[i:i + 5] + known[i // 2:i // 2 + 3]) for i in range(0, 200, 5)] + [""]
    got = split(tf.constant(texts)).to_list()
    assert [[t.decode() for t in row] for row in got] == [[p for w in t.split() for p in encode(w, merges)] for t in texts]


def test_subword_tokens_learn_merges_and_export_raw_text(tmp_path):
    """data.tokens=bpe: merges learned from the training words go into the data's info; the vocabulary holds
    subwords; an unseen word is split into known pieces, and the exported raw-text endpoint (the merges as
    TensorFlow ops, the training words' table saved with it) splits the same way."""
    from keras_recurrent.pipelines import exporting as ex
    from keras_recurrent.pipelines.config import resolve_config
    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.bpe import encode
    from keras_recurrent.tasks.sentiment import make_vectorizer

    # The words BPE learns from are those TextVectorization's own standardisation and split produce.
    import keras

    from keras_recurrent.tasks.sentiment import standardized_words

    messy = ["It's \"great\"... (really)!", "a-b c_d e.f [g] {h} #1 @you 50% x|y ~z `q` ^w $5 & more;:?"]
    words = keras.layers.TextVectorization(standardize="lower_and_strip_punctuation", split="whitespace")
    words.adapt(messy)
    assert set(standardized_words(messy)) == set(words.get_vocabulary()[2:])  # after padding and [UNK]

    task = get_task("sentiment")
    config = resolve_config(task, quick=True, overrides=["data.tokens=bpe", "data.bpe_merges=200"])
    data = task.load(None, config.data, 0)
    info = data.info
    assert info["tokens"] == "bpe" and 0 < len(info["merges"]) <= 200 and "the" in info["bpe_words"]
    assert "the</w>" in info["vocabulary"] and any(not t.endswith("</w>") for t in info["vocabulary"][2:])
    pieces = encode("dialoguehalf", info["merges"])  # unseen, made of seen letters
    assert len(pieces) > 1 and all(p in info["vocabulary"] for p in pieces)  # every piece a known subword
    ids = np.asarray(make_vectorizer(info)(np.asarray(["Dialoguehalf, the"], dtype=object)))[0]
    assert list(ids[:len(pieces) + 1]) == [info["vocabulary"].index(p) for p in [*pieces, "the</w>"]]
    model = task.models.build("bigru", config.model, info)
    report = ex._export_savedmodel(task, model, info, ex._real_inputs(data.test, 4), str(tmp_path))
    assert report["serve_text"]["max_abs_diff"] <= 1e-5  # its examples include words never seen in training
