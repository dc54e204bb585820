"""Where an application is, as intake shows it to the resident and staff see it."""

from enum import StrEnum


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    REVISION_REQUESTED = "revision_requested"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the resident did not resubmit in time
    ISSUED = "issued"
    # Every step approved, but signing refused to issue (a business error staff must fix); the
    # workflow keeps the letter and retries.
    SIGNING_BLOCKED = "signing_blocked"
    # Every step approved; the signer signs remotely (BSrE, with their passphrase) and the
    # letter waits for them, with deadlines like a step.
    AWAITING_SIGNATURE = "awaiting_signature"


FINAL_STATUSES: frozenset[ApplicationStatus] = frozenset(
    {
        ApplicationStatus.ISSUED,
        ApplicationStatus.REJECTED,
        ApplicationStatus.CANCELLED,
        ApplicationStatus.EXPIRED,
    }
)
