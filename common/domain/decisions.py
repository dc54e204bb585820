"""What staff decide on a step, how they came to decide it, and why the workflow refuses."""

from enum import StrEnum


class Decision(StrEnum):
    APPROVE = "approve"
    REVISE = "revise"
    REJECT = "reject"


class DecidedAs(StrEnum):
    """How a decision was taken, for the letter and the record."""

    OWN_ROLE = ""
    PLT = "plt"
    SUPERVISOR = "supervisor"


class ApprovalErrorCode(StrEnum):
    """ApplicationError types the workflow's validators raise; clients map them to answers."""

    WRONG_ROLE = "WrongRole"  # 403
    WRONG_DESA = "WrongDesa"  # 403
    STALE_STEP = "StaleStep"  # 409
    FINISHED = "Finished"  # 409
    NOT_AWAITING_RESUBMIT = "NotAwaitingResubmit"  # 409
    INVALID = "InvalidDecision"  # 422 (also: a revision beyond the route's limit)
    NOT_BLOCKED = "NotBlocked"  # 409: retry_issue on a letter whose signing is not blocked
    NOT_AWAITING_SIGNATURE = "NotAwaitingSignature"  # 409: letter_signed on a letter not waiting
    # 409: a request id already used by another staff member (a request id is bound to its actor)
    REQUEST_REUSED = "RequestReused"
