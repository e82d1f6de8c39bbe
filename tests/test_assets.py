"""Pretrained components fetched on first use (`tasks/assets.py`), against a server this test starts on
127.0.0.1 that serves tiny files in the real layouts: a GloVe archive zipped like `glove.6B.zip`, and
MobileNetV2 / EfficientNetB0 weight files built here from randomly initialised networks under the names
keras.applications asks for. The real URLs are tried with the network blocked (a proxy that refuses)."""

import contextlib
import hashlib
import http.server
import io
import pathlib
import socket
import threading
import zipfile

import numpy as np
import pytest

from keras_recurrent.tasks import assets
from keras_recurrent.tasks.base import UserError

WORDS = ["the", "good", "bad", "film", "dull"]


class _Server:
    """Serves `files` by name; honours Range; `truncate` names files whose next response stops halfway."""

    def __init__(self, files: dict):
        self.files, self.requests, self.truncate = dict(files), [], set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if name in server.truncate:
                    server.truncate.discard(name)
                    body = body[: len(body) // 2]  # then the connection closes: fewer bytes than announced
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def names(self):
        return [name for name, _ in self.requests]


def _glove_zip(dim=50, seed=0):
    rng = np.random.default_rng(seed)
    table = {w: rng.normal(size=dim).astype("float32") for w in WORDS}
    text = "".join(w + " " + " ".join(f"{x:.6f}" for x in v) + "\n" for w, v in table.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:  # the real archive: four sizes, one zip
        for d in (50, 100, 200, 300):
            z.writestr(f"glove.6B.{d}d.txt", text if d == dim else "")
    return buffer.getvalue(), table


@pytest.fixture
def glove():
    data, table = _glove_zip()
    return data, table


@pytest.fixture
def served(glove, tmp_path, monkeypatch):
    """The server, the Keras cache in tmp_path, and the mirror pointed at the server."""
    server = _Server({"glove.6B.zip": glove[0]})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(assets.MIRROR_VARIABLE, server.url)
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    yield server
    server.httpd.shutdown()


def _asset(data, name="glove.6B.zip"):
    return assets.Asset(f"https://example.invalid/{name}", hashlib.sha1(data).hexdigest())


def test_first_use_downloads_and_the_second_is_a_cache_hit(served, glove, capsys):
    asset = _asset(glove[0])
    path = assets.fetch(asset, "model.embeddings=glove.6B.50d")
    assert open(path, "rb").read() == glove[0] and path == assets.cache_path(asset)
    assert "Downloading" in capsys.readouterr().out  # the progress bar's line
    assert assets.fetch(asset, "model.embeddings=glove.6B.50d") == path
    assert served.names() == ["glove.6B.zip"]  # no request the second time
    assert sorted(p.name for p in pathlib.Path(path).parent.iterdir()) == ["glove.6B.zip", "glove.6B.zip.lock"]


def test_a_verified_file_is_not_hashed_again_until_it_changes(served, glove, monkeypatch):
    """A sweep fetches the same archive once a trial: hashed once a process, again only when it changes."""
    asset = _asset(glove[0])
    path = assets.fetch(asset, "model.embeddings=glove.6B.50d")  # downloaded and hashed
    hashed = []
    original = assets.digest
    monkeypatch.setattr(assets, "digest", lambda *a: hashed.append(a[0]) or original(*a))
    for _ in range(3):
        assert assets.fetch(asset, "model.embeddings=glove.6B.50d") == path
    assert hashed == []
    pathlib.Path(path).write_bytes(b"changed on disk")
    with pytest.raises(UserError, match="not the pinned"):
        assets.fetch(asset, "model.embeddings=glove.6B.50d")
    assert hashed == [path]


def test_a_hash_mismatch_is_one_line_and_leaves_nothing(served, glove):
    asset = assets.Asset("https://example.invalid/glove.6B.zip", "0" * 40)
    with pytest.raises(UserError) as error:
        assets.fetch(asset, "model.embeddings=glove.6B.50d")
    message = str(error.value)
    assert "\n" not in message and "sha1" in message and "0" * 40 in message and served.url in message
    folder = pathlib.Path(assets.cache_path(asset)).parent
    assert sorted(p.name for p in folder.iterdir()) == ["glove.6B.zip.lock"]  # no file, no partial file


def test_a_truncated_download_resumes_where_it_stopped(served, glove):
    asset = _asset(glove[0])
    served.truncate.add("glove.6B.zip")
    with pytest.raises(UserError, match="stopped after .* bytes.*run again to resume") as error:
        assets.fetch(asset, "model.embeddings=glove.6B.50d")
    assert "\n" not in str(error.value)
    target = pathlib.Path(assets.cache_path(asset))
    kept = (target.parent / (target.name + ".part")).stat().st_size
    assert not target.exists() and 0 < kept < len(glove[0])
    assert open(assets.fetch(asset, "model.embeddings=glove.6B.50d"), "rb").read() == glove[0]
    assert served.requests[-1] == ("glove.6B.zip", f"bytes={kept}-")  # only the rest was asked for


def test_a_cached_file_that_fails_its_hash_is_reported_not_replaced(served, glove):
    asset = _asset(glove[0])
    target = pathlib.Path(assets.cache_path(asset))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"placed by hand, but the wrong file")
    with pytest.raises(UserError, match="cached .* not the pinned .* left as it is: delete it"):
        assets.fetch(asset, "model.embeddings=glove.6B.50d")
    assert target.read_bytes() == b"placed by hand, but the wrong file" and served.requests == []


def _closed_port():
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_is_one_line_naming_the_url_and_the_file_to_place(tmp_path, monkeypatch, glove):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(assets.MIRROR_VARIABLE, f"http://127.0.0.1:{_closed_port()}/mirror")
    asset = _asset(glove[0])
    with pytest.raises(UserError) as error:
        assets.fetch(asset, "model.embeddings=glove.6B.50d")
    message = str(error.value)
    assert "\n" not in message and message.startswith("model.embeddings=glove.6B.50d: cannot download http://127.0.0.1:")
    assert f"place the file at {assets.cache_path(asset)} by hand" in message and assets.MIRROR_VARIABLE in message


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """The network blocked: every request goes through a proxy on a port nobody listens on."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, proxy)
    for variable in ("no_proxy", "NO_PROXY", assets.MIRROR_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


def test_named_vectors_come_from_the_archive_aligned_to_the_vocabulary(served, glove):
    from keras_recurrent.tasks import vectors

    real = vectors.NAMED["glove.6B.50d"].asset
    test_entry = vectors.NamedVectors(_asset(glove[0]), "glove.6B.50d.txt", 50)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(vectors.NAMED, "glove.6B.50d", test_entry)
        matrix, coverage = vectors.aligned_vectors("glove.6B.50d", ["", "[UNK]", "good", "film", "unseen"], 50)
        with pytest.raises(UserError, match=r"glove.6B.50d: its vectors have 50 numbers, but model.embedding_dim=64; "
                                            r"add --set model.embedding_dim=50"):
            vectors.aligned_vectors("glove.6B.50d", ["", "[UNK]", "good"], 64)
    np.testing.assert_allclose(matrix[2], glove[1]["good"], atol=1e-6)
    np.testing.assert_allclose(matrix[3], glove[1]["film"], atol=1e-6)
    assert coverage["found"] == 2 and coverage["name"] == "glove.6B.50d" and coverage["sha1"] == test_entry.asset.file_hash
    assert coverage["file"].endswith("glove.6B.zip (glove.6B.50d.txt)")
    assert real.url == "https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip" and len(real.file_hash) == 40


def test_the_real_glove_url_offline_is_one_line_and_exit_2(offline, capsys):
    from keras_recurrent.pipelines.cli import main

    args = ["train", "sentiment", "--quick", "--run-dir", str(offline / "r"), "--set", "model.embeddings=glove.6B.50d",
            "--set", "model.embedding_dim=50"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "cannot download https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip" in err
    assert str(offline / "keras" / "keras_recurrent" / "glove.6B.zip") in err
    assert not (offline / "r").exists()


def _weights_file(make, size, path):
    """A keras.applications network with random weights, saved as the legacy .h5 keras.applications loads."""
    network = make(input_shape=(size, size, 3), include_top=False, weights=None)
    network.save(path)
    return network


def test_imagenet_backbone_weights_come_through_the_one_download_path(served, tmp_path):
    import keras

    from keras_recurrent.tasks.captioning.models import CaptioningModel, build_image_encoder

    # The name Keras asks for: its own, for a 224-pixel no-top MobileNetV2 (32 pixels has no weights of its own).
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    network = _weights_file(keras.applications.MobileNetV2, 32, str(tmp_path / "served.h5"))
    served.files[name] = (tmp_path / "served.h5").read_bytes()
    config = CaptioningModel(backbone="mobilenet_v2", backbone_weights="imagenet", encoder_units=4)
    encoder = build_image_encoder(config, {"image_size": 32})
    loaded = next(layer for layer in encoder.layers if isinstance(layer, keras.Model))
    for a, b in zip(loaded.get_weights(), network.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "keras" / "models" / name).exists()  # where Keras keeps its weights
    build_image_encoder(config, {"image_size": 32})
    assert served.names() == [name]  # the second build found it in the cache

    # EfficientNetB0: Keras pins the MD5 of its weights; a file that is not theirs is refused in one line.
    _weights_file(keras.applications.EfficientNetB0, 32, str(tmp_path / "other.h5"))
    served.files["efficientnetb0_notop.h5"] = (tmp_path / "other.h5").read_bytes()
    with pytest.raises(UserError, match=r"^model.backbone_weights=imagenet: .*efficientnetb0_notop.h5 sent a file "
                                        r"whose md5 is [0-9a-f]{32}, not the pinned [0-9a-f]{32}; nothing was kept"):
        build_image_encoder(CaptioningModel(backbone="efficientnet_b0", backbone_weights="imagenet"), {"image_size": 32})
    assert not (tmp_path / "keras" / "models" / "efficientnetb0_notop.h5").exists()


def test_the_real_imagenet_url_offline_is_one_line(offline):
    from keras_recurrent.tasks.captioning.models import CaptioningModel, build_image_encoder

    with pytest.raises(UserError) as error:
        build_image_encoder(CaptioningModel(backbone="mobilenet_v2", backbone_weights="imagenet"), {"image_size": 32})
    message = str(error.value)
    assert "\n" not in message
    assert "cannot download https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" in message
    assert str(offline / "keras" / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5") in message


def test_the_small_cnn_refuses_pretrained_weights():
    from keras_recurrent.tasks.captioning.models import CaptioningModel, build_image_encoder

    with pytest.raises(UserError, match="the small CNN is trained from scratch; pretrained weights need a "
                                        "keras.applications backbone"):
        build_image_encoder(CaptioningModel(backbone_weights="imagenet"), {"image_size": 32})
