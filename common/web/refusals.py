"""A refusal as a page shows it. Use cases raise domain errors (`common.domain.errors`); a page
that answers a refused form with the form again, the message beside the field, reads them
through `refusal_of`. A route's own `Problem` (raised by API routes, never by use cases: see
tests/common/test_layers.py) is read here the same way.

A refusal a page does not catch reaches `install_web`'s handler: the error page."""

import dataclasses
from dataclasses import dataclass
from typing import Any

from common.domain.errors import DomainError
from common.http import Problem, domain_headers, domain_status


@dataclass(frozen=True)
class Refusal:
    status: int  # the page's status, as the API would answer
    message: str  # Indonesian, for the flash or beside the field
    code: str | None = None
    field: str | None = None  # the input to mark, in the use case's names
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. Retry-After


def refusal_of(exc: DomainError | Problem) -> Refusal:
    if isinstance(exc, DomainError):
        return Refusal(
            domain_status(exc),
            exc.message,
            exc.code,
            exc.field,
            exc.details,
            domain_headers(exc),
        )
    extra = dict(exc.extra)
    found = extra.pop("field", None)
    return Refusal(
        exc.status, exc.detail, exc.code, str(found) if found else None, extra, exc.headers or {}
    )
