"""The approval workflow's request bookkeeping, written once for every Update: which requests it
accepted and from whom, which one waits to be acted on, which one the process is acting on, and
the answer of each one finished.

A request id is bound to the actor who made it: a request id seen before from the same actor
is answered with the recorded answer (the client sends the request id as the Update id, so
Temporal itself answers such a repeat without touching the history), from anyone else it is
refused."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from workflows.approval.models import ApprovalState


class Request(Protocol):
    @property
    def request_id(self) -> str: ...


R = TypeVar("R", bound=Request)


class Kind(StrEnum):
    """What a pending request asks for; the process takes each kind where it waits for it."""

    DECIDE = "decide"
    RESUBMIT = "resubmit"
    CANCEL = "cancel"
    RETRY_ISSUE = "retry_issue"
    LETTER_SIGNED = "letter_signed"


@dataclass
class Inbox:
    actors: dict[str, str] = field(default_factory=dict)  # request id -> who made it
    pending: dict[Kind, Any] = field(default_factory=dict)  # accepted, not yet acted on
    in_progress: str | None = None  # the request the process acts on now
    answers: dict[str, ApprovalState] = field(default_factory=dict)

    def owner(self, request_id: str) -> str | None:
        return self.actors.get(request_id)

    @property
    def busy(self) -> bool:
        """A request waits to be acted on or is being acted on: another must wait for it."""
        return bool(self.pending) or self.in_progress is not None

    def accept(self, kind: Kind, request: Request, actor: str) -> None:
        if request.request_id not in self.actors:
            self.actors[request.request_id] = actor
            self.pending[kind] = request

    def has(self, kind: Kind) -> bool:
        return kind in self.pending

    def has_any(self, *kinds: Kind) -> bool:
        return any(kind in self.pending for kind in kinds)

    def take(self, kind: Kind, of_type: type[R]) -> R:
        """The process acts on the pending request of `kind` now."""
        request = self.pending.pop(kind)
        assert isinstance(request, of_type)
        self.in_progress = request.request_id
        return request

    def answer(self, state: ApprovalState) -> None:
        """The request acted on is done: its effects are recorded and `state` shows them."""
        if self.in_progress is not None:
            self.answers[self.in_progress] = state
            self.in_progress = None

    def answered(self, request_id: str) -> bool:
        return request_id in self.answers
