"""Every reader of user files is total: random bytes, and valid files with bytes changed, give a result or a
one-line `UserError`; never another exception, and never a NaN or an infinite value in what is read.

Hypothesis draws the files. CI runs FUZZ_EXAMPLES (default 25) examples a reader; a whole pass before a
release runs many more: `FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_readers.py`.
"""

import io
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_recurrent.tasks import UserError, files

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _write(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _total(read, data: bytes, suffix: str):
    """`read(path)` on `data`: its result, or None after a one-line UserError; anything else fails the test."""
    path = _write(data, suffix)
    try:
        return read(path)
    except UserError as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        return None
    finally:
        os.remove(path)


def _mutated(valid: bytes):
    """Valid content with a few bytes replaced, inserted or removed at drawn places."""
    def mutate(draw_edits):
        data = bytearray(valid)
        for where, kind, byte in draw_edits:
            where %= max(len(data), 1)
            if kind == 0 and data:
                data[where] = byte
            elif kind == 1:
                data.insert(where, byte)
            elif data:
                del data[where]
        return bytes(data)

    edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2), st.integers(0, 255)), min_size=1, max_size=6)
    return edits.map(mutate)


def _finite(values) -> None:
    assert np.isfinite(np.asarray(values, dtype="float64")).all()


# -- forecasting: the CSV a series or a history is read from ------------------------------------------------
SERIES_CSV = b"month,sales,price\n2020-01,10,1.5\n2020-02,12,1.4\n2020-03,,1.6\n2020-04,15,1.2\n2020-05,14,1.3\n"


def _read_series(path):
    from keras_recurrent.tasks.forecasting import series as fs

    frame, is_dates = fs.read_csv(path, time_column="", targets="", separator="", date_format="", encoding="utf-8")
    frame, _ = fs.regularise(frame, is_dates, "", path)
    frame = fs.fill_missing(frame, "interpolate", path)
    values = frame.to_numpy(dtype="float64")
    _finite(values[~np.isnan(values)])
    return values


@FUZZ
@given(st.one_of(st.binary(max_size=400), _mutated(SERIES_CSV)))
def test_forecasting_csv(data):
    _total(_read_series, data, ".csv")


# -- forecasting: a long CSV of many series (id, time, value) ------------------------------------------------
LONG_CSV = (b"id,month,sales\na,2020-01,10\na,2020-02,12\na,2020-03,11\na,2020-04,15\na,2020-05,14\n"
            b"b,2020-01,3\nb,2020-02,4\nb,2020-03,,\nb,2020-04,5\nb,2020-05,7\nb,2020-06,6\n")


def _read_long(path):
    from keras_recurrent.tasks.forecasting import ForecastingData
    from keras_recurrent.tasks.forecasting import collection as fc

    got = fc.load(path, ForecastingData(id_column="id", horizon=2, missing="interpolate"))
    for part in got.train + got.test:
        _finite(part)
    return got


@FUZZ
@given(st.one_of(st.binary(max_size=400), _mutated(LONG_CSV)))
def test_forecasting_long_csv(data):
    _total(_read_long, data, ".csv")


# -- pointer tasks: one instance a line ------------------------------------------------------------------
POINTS = b"0 0 1 0 1 1 0 1\n0.1 0.2 0.3 0.4 0.5 0.6\n"


def _read_points(path):
    from keras_recurrent.tasks import get_task

    task = get_task("tsp")
    info = {"max_points": 10}
    points = [task.parse_instance(text, f"{path}, line {n}", info) for n, text in files.instance_lines(path)]
    for p in points:
        _finite(p)
    return points


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(POINTS)))
def test_pointer_lines(data):
    _total(_read_points, data, ".txt")


# -- video: clip files ---------------------------------------------------------------------------------
def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


CLIP = _npy((np.arange(4 * 6 * 6).reshape(4, 6, 6) % 255).astype(np.uint8))


def _read_clip(path):
    from keras_recurrent.tasks.video import sources

    clips = sources.read_clip(path, 1)
    for clip in clips:
        _finite(clip)
        assert clip.min() >= 0.0 and clip.max() <= 1.0
    return clips


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(CLIP)))
def test_video_clip_npy(data):
    _total(_read_clip, data, ".npy")


# -- captioning: images ----------------------------------------------------------------------------------
def _png(mode: str) -> bytes:
    from PIL import Image

    values = {"I;16": np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000, "P": np.arange(64, dtype=np.uint8).reshape(8, 8),
              "RGB": np.zeros((8, 8, 3), np.uint8) + 100, "L": np.arange(64, dtype=np.uint8).reshape(8, 8)}[mode]
    image = Image.fromarray(values) if mode != "P" else Image.fromarray(values, "L").convert("P")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _read_image(path):
    from keras_recurrent.tasks.captioning import sources

    image = sources.read_image(path, 8)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    return image


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(_png("RGB")), _mutated(_png("I;16")), _mutated(_png("P"))))
def test_captioning_image(data):
    _total(_read_image, data, ".png")


def test_sixteen_bit_and_other_modes_keep_their_grey_levels(tmp_path):
    # A 16-bit grey PNG was clipped to white above 255 (5 grey levels left); it is scaled to 8 bits instead.
    from PIL import Image

    from keras_recurrent.tasks.captioning import sources

    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1040)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    image = sources.read_image(str(tmp_path / "deep.png"), 8)
    assert len(np.unique(image[..., 0])) == 64 and image[0, 0, 0] == 0 and image[-1, -1, 0] >= 250
    Image.fromarray(np.zeros((8, 8, 4), np.uint8) + 200, "RGBA").convert("CMYK").save(tmp_path / "print.jpg")
    assert sources.read_image(str(tmp_path / "print.jpg"), 8).shape == (8, 8, 3)


# -- bAbI: story files -----------------------------------------------------------------------------------
STORY = (b"1 Mary moved to the bathroom.\n2 John went to the hallway.\n3 Where is Mary?\tbathroom\t1\n"
         b"1 Sandra journeyed to the garden.\n2 Where is Sandra?\tgarden\t1\n")


def _read_story(path):
    from keras_recurrent.tasks.babi import stories

    try:
        with open(path, encoding="utf-8") as handle:
            return stories.parse(handle, 1, path)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid utf-8") from None


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(STORY)))
def test_babi_story_file(data):
    _total(_read_story, data, ".txt")


def test_a_question_without_its_answer_is_refused(tmp_path):
    from keras_recurrent.tasks.babi import stories

    with pytest.raises(UserError, match=r"line 2: a question without its answer"):
        stories.parse(["1 Mary moved to the bathroom.\n", "2 Where is Mary?\n"], 1, "qa1_test.txt")
    with pytest.raises(UserError, match=r"line 2: supporting fact '7' is no sentence"):
        stories.parse(["1 Mary moved to the bathroom.\n", "2 Where is Mary?\tbathroom\t7\n"], 1, "qa1_test.txt")


# -- sentiment: a table of texts and labels --------------------------------------------------------------
TABLE = b"review,sentiment\n\"a fine film\",pos\n\"a dull film\",neg\nsomething good,pos\n"


def _read_table(path):
    from keras_recurrent.tasks.sentiment import data

    texts, labels = data.read_table(path, "review", "sentiment", "utf-8")
    assert len(texts) == len(labels) and set(labels) <= {0, 1}
    return texts


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(TABLE)))
def test_sentiment_table(data):
    _total(_read_table, data, ".csv")


# -- any task's --input file: one input a line -------------------------------------------------------------
@FUZZ
@given(st.one_of(st.binary(max_size=200), _mutated(b"one\ntwo\n\nthree\n")))
def test_instance_lines(data):
    def read(path):
        lines = list(files.instance_lines(path))
        assert all(text.strip() for _, text in lines)
        return lines

    _total(read, data, ".txt")


# -- video: GIF clips ------------------------------------------------------------------------------------
def _gif() -> bytes:
    from PIL import Image

    frames = [Image.fromarray((np.arange(36).reshape(6, 6) * (t + 1) % 255).astype(np.uint8)) for t in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    return buffer.getvalue()


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(_gif())))
def test_video_clip_gif(data):
    _total(_read_clip, data, ".gif")


# -- captioning: the captions file ---------------------------------------------------------------------
CAPTIONS = b"a.jpg#0\ta red circle\na.jpg#1\ta small red circle\nb.jpg#0\ta blue square\n"


def _read_captions(path):
    from keras_recurrent.tasks.captioning import sources

    captions = sources.read_captions_file(path)
    assert captions and all(isinstance(c, str) and c.strip() for cs in captions.values() for c in cs)
    return captions


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(CAPTIONS), _mutated(b"image,caption\na.jpg,a red circle\n")))
def test_captions_file(data):
    _total(_read_captions, data, ".txt")


# -- sentiment: the *.pos / *.neg layout -----------------------------------------------------------------
@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutated(b"a fine film\na good cast\n")))
def test_sentiment_line_files(data):
    from keras_recurrent.tasks.sentiment import data as sdata

    folder = tempfile.mkdtemp()
    try:
        with open(os.path.join(folder, "reviews.pos"), "wb") as f:
            f.write(data)
        try:
            texts, labels = sdata.read_line_files(folder, "utf-8")
            assert len(texts) == len(labels) and all(t.strip() for t in texts)
        except UserError as e:
            assert "\n" not in str(e)
    finally:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


# -- forecasting: a history given inline ('v1;v2;...') ----------------------------------------------------
@FUZZ
@given(st.one_of(st.text(max_size=80), st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=12).map(
    lambda values: ";".join(map(str, values)))))
def test_forecasting_inline_history(text):
    from keras_recurrent.tasks.forecasting import _parse_inline

    for info in ({"targets": ["sales"], "features": []},
                 {"targets": ["sales"], "features": [], "future_features": ["promo"], "horizon": 2}):
        for given in (text, text.replace(";", "|", 1)):  # and with the steps ahead after '|'
            try:
                history, ahead = _parse_inline(given, info)
                _finite(history)
                if ahead is not None:
                    _finite(ahead)
                    assert ahead.shape == (2, 1)
            except UserError as e:
                assert "\n" not in str(e)


def test_a_damaged_gif_whose_frames_differ_in_size_is_one_line(tmp_path):
    # Found by the fuzzer: a GIF whose second frame's descriptor was damaged decodes to frames of two sizes.
    path = tmp_path / "damaged.gif"
    path.write_bytes(bytes.fromhex("474946383961060006008500000000000101010202020303030404040505050606060707070808080909090a0a0a0b0b0b0c0c0c0d0d0d0e0e0e0f0f0f1010101111111212121313131414141515151616161717171818181919191a1a1a1b1b1b1c1c1c1d1d1d1e1e1e1f1f1f20202021212122222223232300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000021ff0b4e45545343415045322e3003010000002c000000000600060000082b00010410308040010307102450b0804103070f204490308142050b173064d0b08143070f1f4084103122200021f90401002624002c0000e30006000600850000000202020404040606060808080a0a0a0c0c0c0e0e0e1010101212121414141616161818181a1a1a1c1c1c1e1e1e2020202222222424242626262828282a2a2a2c2c2c2e2e2e3030303232323434343636363838383a3a3a3c3c3c3e3e3e404040424242444444464646000000f80000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000082b00490410308040010307102450b0804103070f204490308142050b173064d0b08143070f1f4084103122200021f90401000024002c0000000006000600850000000303030606060909090c0c0c0f0f0f1212121515151818181b1b1b1e1e1e2121212424242727272a2a2a2d2d2d3030303333333636363939393c3c3c3f3f3f4242424545454848484b4b4b4e4e4e5151515454545757575a5a5a5d5d5d606060636363666666696969000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000082b00490410308040010307102450b0804103070f204490308142050b173064d0b08143070f1f408410312220003b"))
    from keras_recurrent.tasks.video import sources

    with pytest.raises(UserError, match="frames of different sizes"):
        sources.read_clip(str(path), 1)
