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
LETTER_ISSUED = "letter.issued"
LETTER_REVOKED = "letter.revoked"
OTP_REQUESTED = "resident.otp_requested"

# Events for outside systems, on smartdesa.events.<kabupaten>.<kecamatan>.<desa>.<name>, carrying
# only ids, area codes, letter type and state (docs/asyncapi.yaml is their contract).
PUBLIC_EVENTS = (
    APPLICATION_SUBMITTED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_REMINDED,
    APPLICATION_ESCALATED,
    APPLICATION_DECIDED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REJECTED,
    APPLICATION_CANCELLED,
    APPLICATION_EXPIRED,
    LETTER_ISSUED,
    LETTER_REVOKED,
)
# Between the services only, on smartdesa.internal.<name>; never exported.
INTERNAL_EVENTS = (OTP_REQUESTED,)
