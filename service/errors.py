"""One-line error messages for the store: what a user reads in a job's or a trial's ``error``.

Ray wraps an exception raised in a task or actor in ``RayTaskError``, whose text is the remote
traceback with ANSI colour codes. The store keeps the root cause's type and first message line;
full tracebacks belong in the driver log.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_ERROR_CHARS = 2000


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception Ray wrapped (``RayTaskError.cause``, nested for a task of a task).

    Python's own chaining (``raise ... from``) is not followed: our errors that chain a
    low-level one carry the sentence meant for the user."""
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None)
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def one_line(error: BaseException) -> str:
    """``"Type: first line of the message"`` of ``error``'s root cause, without colour codes,
    at most ``MAX_ERROR_CHARS`` characters."""
    cause = root_cause(error)
    lines = [line.strip() for line in strip_ansi(str(cause)).splitlines() if line.strip()]
    text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
