"""The approval client's three domain errors (client.py), in a module of their own: a service
catches them without importing temporalio, which it loads only when it first calls Temporal
(common/temporal_client.py)."""

from common.domain import ApprovalErrorCode


class ApprovalError(Exception):
    """Any of the three answers below."""


class ApprovalRefused(ApprovalError):
    def __init__(self, code: ApprovalErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ApprovalUnavailable(ApprovalError):
    """Temporal or the worker did not answer; nothing was started or changed."""


class ApprovalNotRunning(ApprovalError):
    def __init__(self, finished: bool) -> None:
        super().__init__("finished" if finished else "never started")
        self.finished = finished
