"""Error text for logs and command lines: one line per error."""
from __future__ import annotations


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """The exception's message with every run of whitespace (newlines too) made one space, cut to
    ``limit`` characters when given; the exception's type name when the message is empty."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 3)].rstrip() + "..."
    return text
