"""The event envelope: CloudEvents 1.0 in NATS binary mode (attributes in `ce-` headers, the
data as JSON in the body), subject naming, and the JetStream streams.

Public subjects: smartdesa.events.<kabupaten>.<kecamatan>.<desa>.<aggregate>.<event>, with the
area codes written without dots (NATS separates tokens with dots), e.g.
smartdesa.events.3213.321311.3213112004.application.submitted. A consumer selects with wildcards
(`public_filter` builds them):
  smartdesa.events.3213.>                       everything of Kabupaten Subang
  smartdesa.events.*.321311.>                   every event of Kecamatan Pamanukan
  smartdesa.events.*.*.3213112004.>             every event of Desa Pamanukan
  smartdesa.events.*.*.*.letter.issued          one type, everywhere
  smartdesa.events.*.321311.*.application.*     every application event of one kecamatan
Internal subjects (smartdesa.internal.>) are for the services only and never exported.
docs/asyncapi.yaml is the published contract; tests/contracts check it against this module.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from google.protobuf import json_format
from google.protobuf.message import Message
from smartdesa.v1 import events_pb2

from common.domain import events as names

SPEC_VERSION = "1.0"
TYPE_PREFIX = "id.go.subang.smartdesa"
PUBLIC_STREAM = "SMARTDESA_EVENTS"
PUBLIC_ROOT = "smartdesa.events"
INTERNAL_STREAM = "SMARTDESA_INTERNAL"
INTERNAL_ROOT = "smartdesa.internal"

# Events for outside systems, on smartdesa.events.<kabupaten>.<kecamatan>.<desa>.<name>, carrying
# only ids, area codes, letter type and state (docs/asyncapi.yaml is their contract).
PUBLIC_EVENT_NAMES = (
    names.APPLICATION_SUBMITTED,
    names.APPLICATION_STEP_ASSIGNED,
    names.APPLICATION_REMINDED,
    names.APPLICATION_ESCALATED,
    names.APPLICATION_DECIDED,
    names.APPLICATION_REVISION_REQUESTED,
    names.APPLICATION_RESUBMITTED,
    names.APPLICATION_REJECTED,
    names.APPLICATION_CANCELLED,
    names.APPLICATION_EXPIRED,
    names.APPLICATION_SIGNING_BLOCKED,
    names.LETTER_ISSUED,
    names.LETTER_REVOKED,
    names.COMPLAINT_RECEIVED,
    names.COMPLAINT_ESCALATED,
    names.COMPLAINT_ANSWERED,
)
# Complaint events have a payload of their own (ComplaintEvent); every other public event's is
# an ApplicationEvent.
COMPLAINT_EVENT_NAMES = (
    names.COMPLAINT_RECEIVED,
    names.COMPLAINT_ESCALATED,
    names.COMPLAINT_ANSWERED,
)
# Between the services only, on smartdesa.internal.<name>; never exported.
INTERNAL_EVENT_NAMES = (names.OTP_REQUESTED, names.SIGN_IN_NOTICE)

# Namespace for deterministic event ids (uuid5), so a retried producer re-sends the same id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c1a52-6a43-4c1e-9a52-3a0d2b9e7c11")


def event_type(name: str, version: int = 1) -> str:
    return f"{TYPE_PREFIX}.{name}.v{version}"


def event_name(ce_type: str) -> str:
    """`id.go.subang.smartdesa.letter.issued.v1` -> `letter.issued`."""
    body = ce_type.removeprefix(TYPE_PREFIX + ".")
    return body.rsplit(".", 1)[0]


def deterministic_event_id(*parts: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class AreaCodes:
    """A desa's Kemendagri code split into its levels, e.g. 32.13.11.2004."""

    desa: str
    kecamatan: str
    kabupaten: str

    @classmethod
    def from_desa(cls, desa_code: str) -> "AreaCodes":
        parts = desa_code.split(".")
        if len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError(f"not a Kemendagri desa code: {desa_code!r}")
        return cls(desa=desa_code, kecamatan=".".join(parts[:3]), kabupaten=".".join(parts[:2]))

    @staticmethod
    def token(code: str) -> str:
        return code.replace(".", "")


def public_subject(desa_code: str, name: str) -> str:
    area = AreaCodes.from_desa(desa_code)
    return ".".join(
        [
            PUBLIC_ROOT,
            AreaCodes.token(area.kabupaten),
            AreaCodes.token(area.kecamatan),
            AreaCodes.token(area.desa),
            name,
        ]
    )


def public_filter(
    *,
    kabupaten: str | None = None,
    kecamatan: str | None = None,
    desa: str | None = None,
    name: str | None = None,
) -> str:
    """A subject filter for public events: any of the area levels (dotted Kemendagri codes) and
    an event name (`letter.issued`, or `application.*`); what is left out matches anything."""
    tokens = [AreaCodes.token(code) if code else "*" for code in (kabupaten, kecamatan, desa)]
    if name is None:
        while tokens and tokens[-1] == "*":  # `a.*.*.>` is `a.>`
            tokens.pop()
        return ".".join([PUBLIC_ROOT, *tokens, ">"])
    return ".".join([PUBLIC_ROOT, *tokens, name])


def internal_subject(name: str) -> str:
    return f"{INTERNAL_ROOT}.{name}"


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    data: dict[str, Any]
    subject: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def name(self) -> str:
        return event_name(self.type)

    def headers(self) -> dict[str, str]:
        """Binary-mode headers; values percent-encoded as the NATS binding asks."""
        h = {
            "ce-specversion": SPEC_VERSION,
            "ce-id": self.id,
            "ce-source": self.source,
            "ce-type": self.type,
            "ce-time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ce-datacontenttype": "application/json",
            "Nats-Msg-Id": self.id,  # JetStream drops a re-publish of the same id
        }
        if self.subject:
            h["ce-subject"] = self.subject
        return {k: quote(v, safe=":/.-_~+@=") for k, v in h.items()}

    def body(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_message(cls, headers: dict[str, str] | None, body: bytes) -> "CloudEvent":
        h = {k.lower(): unquote(v) for k, v in (headers or {}).items()}
        missing = [a for a in ("ce-id", "ce-source", "ce-type", "ce-specversion") if a not in h]
        if missing:
            raise ValueError(f"not a CloudEvent, missing {missing}")
        if h["ce-specversion"] != SPEC_VERSION:
            raise ValueError(f"unsupported CloudEvents version {h['ce-specversion']!r}")
        time = datetime.fromisoformat(h["ce-time"]) if "ce-time" in h else datetime.now(UTC)
        return cls(
            id=h["ce-id"],
            source=h["ce-source"],
            type=h["ce-type"],
            subject=h.get("ce-subject"),
            time=time,
            data=json.loads(body) if body else {},
        )


def proto_data(message: Message) -> dict[str, Any]:
    """Event data from a payload message in proto/smartdesa/v1/events.proto. Fields holding
    their default (empty string, 0) are left out, as protobuf's JSON mapping does."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class NotPublicData(ValueError):
    pass


def public_payload(name: str) -> type[Message]:
    """The payload message of a public event (by its name, `complaint.received`)."""
    if name in COMPLAINT_EVENT_NAMES:
        return events_pb2.ComplaintEvent
    return events_pb2.ApplicationEvent


def check_public_data(data: dict[str, Any], name: str = "") -> None:
    """Refuse data for a public subject that is not its event's payload (an ApplicationEvent,
    or a ComplaintEvent for `complaint.*`): its fields are the only ones outside systems may see
    (ids, area codes, type, state; no NIK, name or phone)."""
    payload = public_payload(name)
    known = {f.name for f in payload.DESCRIPTOR.fields}
    unknown = sorted(set(data) - known)
    if unknown:  # only the names: a value may be exactly what must not leak, even into a log
        raise NotPublicData(f"fields {unknown} are not part of a public event")
    try:
        json_format.ParseDict(data, payload())
    except json_format.ParseError:
        raise NotPublicData("a field of the public event has the wrong type") from None


def is_public(nats_subject: str) -> bool:
    return nats_subject.startswith(PUBLIC_ROOT + ".")
