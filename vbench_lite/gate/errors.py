"""The gate's user errors, each carrying its documented exit code (docs/gate.md, "Exit codes").

2 is a usage or configuration mistake (a bad flag, path or policy file); 3 is data that cannot be
compared: an incomplete run, a corrupt baseline, or inputs that differ in what they measured.
"""

from __future__ import annotations

from vbench_lite.errors import InputError, VblError

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_INCOMPATIBLE = 3
EXIT_INTERNAL = 4


class GateUsageError(InputError):
    """A flag, path or policy the user gave cannot be used."""

    exit_code = EXIT_USAGE


class IncompatibleData(VblError):
    """Candidate and baseline cannot be compared, or one of them is incomplete."""

    exit_code = EXIT_INCOMPATIBLE
