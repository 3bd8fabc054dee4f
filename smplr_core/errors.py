"""Error text for logs and command lines: one line per error."""
from __future__ import annotations


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """The exception's message with every run of whitespace (newlines too) made one space, cut to
    ``limit`` characters when given (at a word boundary when there is one); the exception's type
    name when the message is empty."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if limit is not None and len(text) > limit:
        cut = text[: max(0, limit - 3)]
        if " " in cut and text[len(cut)] != " ":
            cut = cut[: cut.rindex(" ")]
        text = cut.rstrip() + "..."
    return text


def describe(exc: BaseException, limit: int | None = None) -> str:
    """``Type: message`` on one line (see :func:`one_line`), or just ``Type`` when the exception
    has no message (not ``EOFError: EOFError``)."""
    name = type(exc).__name__
    text = one_line(exc, limit)
    return name if text == name else f"{name}: {text}"
