"""Our own exception hierarchy: adapters translate library errors into these (``raise ... from e``)."""

from __future__ import annotations


class RemediatorError(Exception):
    """Base of every error the bot raises on purpose. ``str(e)`` is a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(truncate(message))


class PermanentError(RemediatorError):
    """Retrying will not help: bad input, not found, forbidden."""


class TemporaryError(RemediatorError):
    """May succeed later: timeouts, 5xx, connection errors."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InputError(PermanentError):
    """A file, folder or argument given by the user is unusable."""


class NotFoundError(PermanentError):
    """The named object (e.g. the Application) does not exist."""


class ForbiddenError(PermanentError):
    """The API refused the call (401/403)."""


def truncate(text: str, limit: int = 600) -> str:
    """One line, at most ``limit`` characters: remote error text is never dumped whole. A longer
    line is cut after its last whole sentence (or ``/``-joined line) that fits, not mid-word."""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    cut = max(head.rfind(". "), head.rfind(" / "))
    return (head[: cut + 1] if cut > limit // 2 else head).rstrip(" /") + " …"
