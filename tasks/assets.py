"""Pretrained components fetched on first use: the one download path for word vectors and ImageNet weights.

A run that names a pretrained component (`model.embeddings=glove.6B.100d`,
`model.backbone_weights=imagenet`) asks `fetch` for a file. The file lives in the Keras cache
(`$KERAS_HOME`, else `~/.keras`; word vectors under `keras_recurrent/`, keras.applications weights under
`models/`, where Keras itself looks), so a file Keras downloaded before is found, and one placed there by
hand is used as it is.

- **Cache first**: a file already in the cache is checked against its pinned hash and used; no request is
  made. A cached file that fails its hash is never replaced silently: it may be one a user placed; the
  error says so and names it.
- **Resumable**: the transfer goes to `NAME.part` beside the target and continues from where it stopped
  (an HTTP Range request) on the next run; a connection that drops mid-file costs only what is left.
  An 822 MB archive should not start again from zero. `keras.utils.get_file` cannot resume and leaves a
  file that fails its hash in place, which is why the transfer is done here.
- **Verified**: the complete file is hashed (MD5, SHA-1 or SHA-256, told by the length of the pinned
  value) before it is renamed into place; a mismatch deletes the download and stops with one line.
- **Mirrors**: `KERAS_RECURRENT_ASSETS_URL=https://host/dir` (or `file:///dir`) fetches every file by its
  name from there instead, for users behind a proxy or on a cluster without a network. The hashes are
  the same, so a mirror cannot substitute other content.
- **Offline**: a failed connection is one line naming the URL and the path to place the file at by hand.
- **Progress**: a `keras.utils.Progbar` in bytes.

keras.applications builds its weight URLs and hashes inside its constructors; `keras_application` routes
its `get_file` call through `fetch`, so there is no second copy of Keras's URLs or hashes here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from keras_recurrent.tasks.base import UserError

MIRROR_VARIABLE = "KERAS_RECURRENT_ASSETS_URL"
_CHUNK = 1 << 20
_ALGORITHMS = {32: "md5", 40: "sha1", 64: "sha256"}
# Files this process has hashed and found as pinned, by (path, size, mtime, hash): a sweep builds a model a
# trial, and hashing an 822 MB archive again for each would cost seconds a trial for nothing.
_VERIFIED: set = set()


@dataclass(frozen=True)
class Asset:
    """A file at `url`, cached as `cache_subdir/fname` under the Keras cache.

    `file_hash`: its hex digest (MD5, SHA-1 or SHA-256 by length), or None where the publisher pins none
    (then the cached file is used as it is). `fname` defaults to the URL's last part.
    """

    url: str
    file_hash: str | None = None
    cache_subdir: str = "keras_recurrent"
    fname: str = ""

    @property
    def name(self) -> str:
        return self.fname or os.path.basename(urllib.parse.urlsplit(self.url).path)


def keras_home() -> str:
    """Keras's cache root, as `keras.utils.get_file` chooses it: `$KERAS_HOME`, else `~/.keras`, and
    `/tmp/.keras` where that cannot be written."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(home, exist_ok=True)
    except OSError:
        return os.path.join("/tmp", ".keras")
    return home if os.access(home, os.W_OK) else os.path.join("/tmp", ".keras")


def cache_path(asset: Asset) -> str:
    return os.path.join(keras_home(), asset.cache_subdir, asset.name)


def origin(asset: Asset) -> str:
    """Where the file is fetched from: the mirror named by $KERAS_RECURRENT_ASSETS_URL, else its URL."""
    mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
    return f"{mirror.rstrip('/')}/{urllib.parse.quote(asset.name)}" if mirror else asset.url


def digest(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _algorithm(file_hash: str) -> str:
    try:
        return _ALGORITHMS[len(file_hash)]
    except KeyError:
        raise ValueError(f"a pinned hash of {len(file_hash)} hex digits: expected MD5, SHA-1 or SHA-256") from None


def fetch(asset: Asset, setting: str, progress: bool = True) -> str:
    """The local path of `asset`, downloaded into the Keras cache on first use.

    `setting` names what asked for it ("model.embeddings=glove.6B.100d") and starts every error line.
    Raises UserError (one line) when the file cannot be fetched, is truncated, or fails its hash.
    """
    target = cache_path(asset)
    algorithm = _algorithm(asset.file_hash) if asset.file_hash else None
    if os.path.isfile(target):
        _check_cached(target, asset, algorithm, setting)
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with _exclusive(target + ".lock"):
        if os.path.isfile(target):  # another process finished it while this one waited
            _check_cached(target, asset, algorithm, setting)
            return target
        source = origin(asset)
        part = target + ".part"
        _transfer(source, part, target, setting, progress)
        if algorithm and (found := digest(part, algorithm)) != asset.file_hash:
            os.remove(part)  # complete but wrong: resuming it would never help
            raise UserError(f"{setting}: {source} sent a file whose {algorithm} is {found}, not the pinned "
                            f"{asset.file_hash}; nothing was kept (a proxy or mirror serving another file?)")
        os.replace(part, target)
        _VERIFIED.add(_identity(target, asset))
    return target


def _identity(path: str, asset: Asset) -> tuple:
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns, asset.file_hash


def _check_cached(target: str, asset: Asset, algorithm: str | None, setting: str) -> None:
    if not algorithm or _identity(target, asset) in _VERIFIED:
        return
    if (found := digest(target, algorithm)) != asset.file_hash:
        raise UserError(f"{setting}: the cached {target} has {algorithm} {found}, not the pinned {asset.file_hash}; "
                        f"it was left as it is: delete it to download {asset.url} again")
    _VERIFIED.add(_identity(target, asset))


@contextlib.contextmanager
def _exclusive(lock_path: str):
    """One download of a file at a time across processes (sweep workers asking for the same vectors)."""
    import fcntl

    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes, or its process dies
        yield


def _opener():
    # Built per call, so the proxy settings of the environment at this moment apply (urlopen's global
    # opener reads them once, at its first use).
    return urllib.request.build_opener(urllib.request.ProxyHandler())


def _transfer(source: str, part: str, target: str, setting: str, progress: bool) -> None:
    """Download `source` into `part`, continuing a previous partial download when the server allows it."""
    import http.client

    import keras

    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(source, headers={"Range": f"bytes={have}-"} if have else {})
    by_hand = f"place the file at {target} by hand, or set {MIRROR_VARIABLE} to a mirror that has it"
    try:
        with _opener().open(request, timeout=60) as response:
            status = getattr(response, "status", None)
            if have and status != 206:
                have = 0  # the server sends the whole file again: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            bar = keras.utils.Progbar(total, unit_name="byte") if progress else None
            if bar is not None:
                print(f"Downloading {source}" + (f" (resuming at {have:,} bytes)" if have else ""), flush=True)
            done = have
            with open(part, "ab" if have else "wb") as out:
                while block := response.read(_CHUNK):
                    out.write(block)
                    done += len(block)
                    if bar is not None:
                        bar.update(done)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return  # the part is already whole (stopped between the last byte and the rename): the hash decides
        raise UserError(f"{setting}: cannot download {source}: HTTP {e.code} {e.reason}; {by_hand}") from None
    except urllib.error.URLError as e:
        raise UserError(f"{setting}: cannot download {source} ({_reason(e.reason)}); {by_hand}") from None
    except (OSError, http.client.HTTPException) as e:
        kept = os.path.getsize(part) if os.path.exists(part) else 0
        raise UserError(f"{setting}: the download of {source} stopped after {kept:,} bytes ({_reason(e)}); "
                        f"run again to resume it, or {by_hand}") from None
    if total is not None and done < total:
        raise UserError(f"{setting}: the download of {source} stopped after {done:,} of {total:,} bytes; "
                        f"run again to resume it, or {by_hand}")


def _reason(error) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def keras_application(constructor, setting: str, **kwargs):
    """`constructor(weights="imagenet", **kwargs)` (a keras.applications network), its weights fetched here.

    Keras builds the weight file's URL, name and hash inside the constructor and hands them to its
    `file_utils.get_file`; for the length of this call that function is replaced by one that fetches
    through `fetch` (cache, resume, hash, mirror, one-line errors) and returns the local path, which Keras
    then loads. The file lands where Keras keeps it (`models/` of the Keras cache) under Keras's name.
    A private Keras module is patched (listed in pipelines/compat.py's docstring); if Keras moves the
    function, the patch fails loudly here rather than downloading by another path.
    """
    from unittest import mock

    from keras.src.utils import file_utils

    def through_fetch(fname=None, origin=None, file_hash=None, cache_subdir="datasets", hash_algorithm="auto",
                      **unused):
        del hash_algorithm, unused  # told by the hash's length (Keras pins MD5 or SHA-256; MobileNetV2 none)
        return fetch(Asset(url=origin, file_hash=file_hash, cache_subdir=cache_subdir, fname=fname or ""), setting)

    with mock.patch.object(file_utils, "get_file", through_fetch):
        return constructor(weights="imagenet", **kwargs)


__all__ = ["Asset", "MIRROR_VARIABLE", "cache_path", "fetch", "keras_application", "keras_home", "origin"]
