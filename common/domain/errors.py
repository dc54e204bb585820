"""What a use case refuses, said without HTTP: a kind (the classes below), a stable `code`, the
message a resident or staff member reads (Bahasa Indonesia), the input it is about (`field`)
and any details a client may act on (e.g. the missing syarat).

Domain modules and use cases raise these; the API turns them into problem+json
(`common.http`), the pages into a message on the page (`common.web.refusals`). Each kind has one
HTTP status, written once in `common.http`.
"""

from typing import Any


class DomainError(Exception):
    """A refusal. Raise one of the kinds below, never this base."""

    def __init__(
        self, code: str, message: str, *, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details


class NotFound(DomainError):
    """It does not exist, or not for this person (who must not learn that it exists)."""


class Forbidden(DomainError):
    """It exists and they may see it, but not do this."""


class Conflict(DomainError):
    """Not in its present state (already submitted, no longer waiting, ...)."""


class Invalid(DomainError):
    """The input is wrong; `field` names it when one input is to blame."""


class Unavailable(DomainError):
    """Another service did not answer: nothing was done, and trying again later may work."""


class Unauthenticated(DomainError):
    """They have not shown who they are, or what they showed (a code, a password) is wrong."""


class TooLarge(DomainError):
    """The file or the piece of it is larger than we take."""


class UnsupportedType(DomainError):
    """The file is of a kind we do not take."""


class TooMany(DomainError):
    """Too many attempts: `retry_after` says in how many seconds the next one may be made."""

    def __init__(self, code: str, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(code, message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class Malformed(DomainError):
    """The request itself cannot be read (a protocol header out of shape), before any rule."""
