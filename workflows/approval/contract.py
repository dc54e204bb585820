"""The approval workflow's messages as typed definitions: each Update and query by its name,
argument and result type. The client calls through them, so the services never import the
workflow's module (which would carry its code into their images); the workflow's handler
methods carry the same names and types, and tests/workflows/test_client.py checks that they
agree."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from workflows.approval.models import (
    ApprovalState,
    CancelInput,
    DecisionInput,
    IssueLetterInput,
    LetterSignedInput,
    ResubmitInput,
    RetryIssueInput,
)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class UpdateDef(Generic[ArgT, ResultT]):
    name: str
    arg: type[ArgT]
    result: type[ResultT]


@dataclass(frozen=True)
class QueryDef(Generic[ResultT]):
    name: str
    result: Any  # a type, or a union such as `IssueLetterInput | None`


DECIDE = UpdateDef("decide", DecisionInput, ApprovalState)
RESUBMIT = UpdateDef("resubmit", ResubmitInput, ApprovalState)
CANCEL = UpdateDef("cancel", CancelInput, ApprovalState)
RETRY_ISSUE = UpdateDef("retry_issue", RetryIssueInput, ApprovalState)
LETTER_SIGNED = UpdateDef("letter_signed", LetterSignedInput, ApprovalState)

STATE = QueryDef[ApprovalState]("state", ApprovalState)
# Who signs the letter and how, once every step is approved (None before): a remote signer's
# letter is issued by verification with exactly this request.
ISSUE_REQUEST = QueryDef[IssueLetterInput | None]("issue_request", IssueLetterInput | None)

UPDATES = (DECIDE, RESUBMIT, CANCEL, RETRY_ISSUE, LETTER_SIGNED)
QUERIES = (STATE, ISSUE_REQUEST)
