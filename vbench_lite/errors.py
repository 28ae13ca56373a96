"""Errors a user can cause. Each renders as one line that says what is wrong and what to do.

The CLI catches `VblError` and prints `str(error)`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class VblError(Exception):
    """A mistake the user can fix; the message is the whole report."""

    exit_code = 2


class InputError(VblError):
    """A path, flag or file given on the command line is unusable."""


class UnknownName(VblError):
    def __init__(self, kind: str, name: str, known: list[str]):
        listing = ", ".join(sorted(known)) or "none installed"
        command = "vbl dims" if kind == "dimension" else "vbl models"
        super().__init__(f"unknown {kind} '{name}'; installed: {listing} (see `{command}`)")


class WeightsMissing(VblError):
    """A backend needs a weight file that is not on this machine."""

    def __init__(self, file: str, where: list[Path], what: str = ""):
        self.file = file
        self.where = where
        places = " or ".join(str(p) for p in where[:2])
        label = f" ({what})" if what else ""
        super().__init__(f"missing weight file {file}{label}: put it in {places} (see `vbl weights`)")


class StoreUnreachable(VblError):
    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot open results store {url}: {reason}; check --db / VBL_DB")


class VideoUnreadable(Exception):
    """A single video cannot be scored; stored as a failed row, the run goes on."""


def one_line(error: BaseException, with_type: bool = True) -> str:
    """An exception as one line for a log or a failed row: its type and its message's first line."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if not with_type:
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}".rstrip(": ")
