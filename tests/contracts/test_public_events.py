"""Events for outside systems carry no NIK, name or phone number: for every event type, made by
the code that publishes it from an application full of personal data."""

import re
from urllib.parse import unquote

from smartdesa.v1 import events_pb2

from common.events import INTERNAL_EVENT_NAMES, PUBLIC_EVENT_NAMES, is_public
from tests.contracts.conftest import PERSONAL, Produced

# Field names that would mean personal data in an event (Indonesian and English).
_PERSONAL_FIELD = re.compile(
    r"nik|nama|name|phone|telp|hp|alamat|address|email|lahir|birth|reason|alasan|kk|ktp"
)


def test_the_public_payload_has_no_field_for_personal_data() -> None:
    fields = [
        f.name
        for message in (events_pb2.ApplicationEvent, events_pb2.ComplaintEvent)
        for f in message.DESCRIPTOR.fields
    ]
    # A letter's number and its type's name ("Surat Keterangan Domisili") name no person.
    not_personal = ("letter_number", "letter_type_name")
    assert [f for f in fields if _PERSONAL_FIELD.search(f) and f not in not_personal] == []


def _everything(item: Produced) -> str:
    headers = item.event.headers()
    return " ".join(
        [
            item.nats_subject,
            *headers.values(),
            *map(unquote, headers.values()),
            item.event.body().decode(),
        ]
    )


def test_every_public_event_type_is_free_of_personal_data(produced: list[Produced]) -> None:
    public = [p for p in produced if is_public(p.nats_subject)]
    assert {p.event.name for p in public} == set(PUBLIC_EVENT_NAMES)
    for item in public:
        text = _everything(item)
        leaked = [value for value in PERSONAL if value in text]
        assert leaked == [], f"{item.event.name} carries personal data"


def test_internal_events_stay_internal_and_carry_no_contact(produced: list[Produced]) -> None:
    internal = [p for p in produced if not is_public(p.nats_subject)]
    assert {p.event.name for p in internal} == set(INTERNAL_EVENT_NAMES)
    for item in internal:
        assert item.nats_subject.startswith("smartdesa.internal.")
        assert [value for value in PERSONAL if value in _everything(item)] == []
