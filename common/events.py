"""The event envelope: CloudEvents 1.0 in NATS binary mode (attributes in `ce-` headers, the
data as JSON in the body), subject naming, and the JetStream streams.

Public subjects: smartdesa.events.<kabupaten>.<kecamatan>.<desa>.<aggregate>.<event>, with the
area codes written without dots (NATS separates tokens with dots), e.g.
smartdesa.events.3213.321311.3213112004.application.submitted. A consumer selects by area with
wildcards: `smartdesa.events.*.321311.>` is every event of Kecamatan Pamanukan.
Internal subjects (smartdesa.internal.>) are for the services only and never exported.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from google.protobuf import json_format
from google.protobuf.message import Message

SPEC_VERSION = "1.0"
TYPE_PREFIX = "id.go.subang.smartdesa"
PUBLIC_STREAM = "SMARTDESA_EVENTS"
PUBLIC_ROOT = "smartdesa.events"
INTERNAL_STREAM = "SMARTDESA_INTERNAL"
INTERNAL_ROOT = "smartdesa.internal"

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
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
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
    """Event data from a payload message in proto/smartdesa/v1/events.proto."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
