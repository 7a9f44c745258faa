"""One root error for everything the lab reports to a user.

Every LabError renders as one line that says what is wrong and what to do. The CLI prints
``str(err)`` and exits non-zero; it never shows a traceback for a LabError.
"""

from __future__ import annotations


class LabError(Exception):
    """Root of every error the lab reports to a user."""

    exit_code = 2


class UsageError(LabError):
    """Bad input from the user: an unknown mode, a name too long, a missing file."""


class PreflightError(LabError):
    """The host can't run a lab: not root, a binary missing, no veth support..."""


class CommandError(LabError):
    """A subprocess failed. Carries argv, exit code and the tail of its output."""

    def __init__(self, argv: list[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-10:])
        msg = f"command failed (exit {returncode}): {' '.join(argv)}"
        if tail:
            msg += "\n" + tail
        super().__init__(msg)


class DaemonError(LabError):
    """A daemon exited or never became ready. The message names it and shows its log tail."""


class StateError(LabError):
    """A lab's state file is missing, corrupt, or the lab is in the wrong state for the task."""


class DecodeError(LabError):
    """A pcap or a packet in it can't be decoded. The message names the frame and the reason."""

    def __init__(self, reason: str, frame: int | None = None) -> None:
        self.reason = reason
        self.frame = frame
        where = f"frame {frame}: " if frame is not None else ""
        super().__init__(f"{where}{reason}")


class GoldenError(LabError):
    """A golden is missing, malformed or differs from the obtained flow."""


class ClientError(LabError):
    """The DHCP client did not get an address inside the pool."""
