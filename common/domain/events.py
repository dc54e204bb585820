"""Event names: the `<aggregate>.<event>` part of NATS subjects and CloudEvent types. Imports
nothing, so workflow code (which must stay free of I/O imports) can use them as well."""

APPLICATION_SUBMITTED = "application.submitted"
APPLICATION_STEP_ASSIGNED = "application.step_assigned"
APPLICATION_DECIDED = "application.decided"
APPLICATION_REVISION_REQUESTED = "application.revision_requested"
APPLICATION_RESUBMITTED = "application.resubmitted"
APPLICATION_REJECTED = "application.rejected"
APPLICATION_REMINDED = "application.reminded"
APPLICATION_ESCALATED = "application.escalated"
APPLICATION_CANCELLED = "application.cancelled"
APPLICATION_EXPIRED = "application.expired"
# Every step approved, but signing refused the letter (e.g. no certificate for the signer); the
# workflow retries on a timer and on a staff request.
APPLICATION_SIGNING_BLOCKED = "application.signing_blocked"
LETTER_ISSUED = "letter.issued"
LETTER_REVOKED = "letter.revoked"
OTP_REQUESTED = "resident.otp_requested"
# Internal: a sign-in binding the operator is told of, or an old number told of a phone change.
SIGN_IN_NOTICE = "resident.sign_in_notice"
# Complaints (pengaduan, docs/public-duties.md): filed, escalated to the kabupaten at the
# deadline, answered. Public: ids, area codes, status and deadline only.
COMPLAINT_RECEIVED = "complaint.received"
COMPLAINT_ESCALATED = "complaint.escalated"
COMPLAINT_ANSWERED = "complaint.answered"
