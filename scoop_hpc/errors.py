"""Every exception scoop_hpc raises, in one place.

The ``concurrent.futures`` exceptions are re-exported, not redefined, so that
code written for PEP 3148 executors catches ours.
"""
from concurrent.futures import (  # noqa: F401  (re-exported)
    BrokenExecutor,
    CancelledError,
    InvalidStateError,
    TimeoutError,
)

__all__ = [
    "ScoopError", "BrokenPool", "WorkerLostError", "TransportError",
    "LauncherError", "UsageError", "SerializationError", "ConstantError",
    "RemoteTraceback", "CancelledError", "TimeoutError", "InvalidStateError",
    "NotStartedProperly", "ConfigError", "SchedulerError", "SubmitError",
    "TemplateError", "MainGuardError",
]


class ScoopError(Exception):
    """Base class of scoop_hpc's own errors."""


class BrokenPool(ScoopError, BrokenExecutor):
    """The pool of workers can no longer run tasks."""


class WorkerLostError(BrokenPool):
    """A worker died or stopped answering while it held tasks."""


class TransportError(ScoopError):
    """A message could not be sent, received or decoded."""


class LauncherError(ScoopError):
    """The launcher could not start or supervise the job."""


class UsageError(LauncherError):
    """The command line is wrong; the launcher exits with code 2."""


class ConfigError(UsageError):
    """A site or user configuration file or variable is wrong; names the
    file (or variable), the key and the bad value."""


class SchedulerError(ScoopError):
    """Something about a batch scheduler's job scripts went wrong."""


class SubmitError(SchedulerError):
    """A job could not be submitted, or its id not read from the reply."""


class TemplateError(SchedulerError):
    """A job-script template cannot be rendered: a variable it needs has no
    value, or the template itself is malformed."""


class SerializationError(ScoopError, TypeError):
    """An object could not be serialised to travel to another worker.

    ``subject`` names the object and ``reason`` is the pickler's complaint,
    when the codec raised it.
    """

    subject = ""
    reason = ""


class ConstantError(ScoopError, TypeError):
    """A shared constant was defined twice (SCOOP raised TypeError)."""


class MainGuardError(ScoopError, RuntimeError):
    """A worker imported the program and its top level gave out tasks: the
    main code lacks the ``if __name__ == "__main__":`` guard."""


class NotStartedProperly(ScoopError):
    """Kept for SCOOP compatibility; scoop_hpc runs serially instead."""


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised by a task.

    It is attached as ``__cause__`` of the exception re-raised on the
    caller, so an uncaught task error prints where it really happened.
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb
