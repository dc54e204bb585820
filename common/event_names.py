"""Event names: the `<aggregate>.<event>` part of NATS subjects and CloudEvent types. Imports
nothing, so workflow code (which must stay free of I/O imports) can use them as well."""

APPLICATION_SUBMITTED = "application.submitted"
APPLICATION_STEP_ASSIGNED = "application.step_assigned"
APPLICATION_DECIDED = "application.decided"
APPLICATION_REVISION_REQUESTED = "application.revision_requested"
APPLICATION_RESUBMITTED = "application.resubmitted"
APPLICATION_REJECTED = "application.rejected"
LETTER_ISSUED = "letter.issued"
OTP_REQUESTED = "resident.otp_requested"
