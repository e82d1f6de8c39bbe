"""Text helpers shared by the tasks that read files."""

from __future__ import annotations

from keras_recurrent.tasks.base import UserError


def decode(raw: bytes, encoding: str, where: str) -> str:
    """Decode `raw` or raise a UserError naming the place, the offending byte and the option to use.

    Silently replacing undecodable bytes would change the text a model learns from, so it is refused.
    """
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        hint = "; pass --encoding (for example --encoding cp1252)" if encoding.lower().replace("-", "") == "utf8" else ""
        raise UserError(f"{where}: byte {raw[e.start]:#04x} at offset {e.start} is not valid {encoding}{hint}") from None
    except LookupError:
        raise UserError(f"data.encoding={encoding!r}: unknown text encoding") from None
