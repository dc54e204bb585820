"""Public application events as intake publishes them, for feeding the task inbox in tests."""

import uuid
from datetime import UTC, datetime

from smartdesa.v1 import events_pb2

from common.events import CloudEvent, event_type, proto_data
from services.intake.applications import EVENT_SOURCE

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"


def application_event(
    name: str,
    application_id: str,
    *,
    desa_code: str = PAMANUKAN,
    step_index: int = 0,
    step_role: str = "",
    decision: str = "",
    time: datetime | None = None,
    event_id: str | None = None,
    deadline: datetime | None = None,
    escalated_to_role: str = "",
    escalation_level: int = 0,
    status: str = "in_review",
    letter_type: str = "SKD",
    application_number: str = "",
) -> CloudEvent:
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=EVENT_SOURCE,
        type=event_type(name),
        subject=application_id,
        time=time or datetime.now(UTC),
        data=proto_data(
            events_pb2.ApplicationEvent(
                application_id=application_id,
                application_number=application_number,
                desa_code=desa_code,
                letter_type=letter_type,
                status=status,
                step_index=step_index,
                step_role=step_role,
                decision=decision,
                deadline=deadline.isoformat().replace("+00:00", "Z") if deadline else "",
                escalated_to_role=escalated_to_role,
                escalation_level=escalation_level,
            )
        ),
    )
