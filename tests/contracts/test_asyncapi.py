"""docs/asyncapi.yaml: valid AsyncAPI 3.0 (against the official JSON Schema, vendored from the
@asyncapi/specs package) and true to the code: the same events, subjects, headers, payload
fields and streams, and every event the producers make validates against it."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from smartdesa.v1 import events_pb2

from common import dead_letters
from common.domain import events as event_names
from common.events import (
    INTERNAL_EVENT_NAMES,
    PUBLIC_EVENT_NAMES,
    CloudEvent,
    event_type,
    internal_subject,
    public_payload,
    public_subject,
)
from common.messaging import DEAD_LETTER_SOURCES, STREAMS
from tests.contracts.conftest import PAMANUKAN, Produced

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "asyncapi.yaml"
SCHEMA_PATH = ROOT / "docs" / "schemas" / "asyncapi-3.0.0.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = yaml.safe_load(DOC_PATH.read_text())
    assert isinstance(loaded, dict)
    return loaded


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local $refs (`#/a/b`) until a node that is not a reference."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references: {ref}"
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"dangling reference {ref}"
            node = node[part]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def channels_by_event(doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Event name -> (channel id, channel), from the message names."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for channel_id, channel in doc["channels"].items():
        for message in channel["messages"].values():
            found[resolve(doc, message)["name"]] = (channel_id, channel)
    return found


def message_of(doc: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    (message,) = channel["messages"].values()
    resolved = resolve(doc, message)
    assert isinstance(resolved, dict)
    return resolved


def expand(doc: dict[str, Any], schema: Any) -> Any:
    """The schema with every local $ref inlined, for jsonschema."""
    schema = resolve(doc, schema)
    if isinstance(schema, dict):
        return {k: expand(doc, v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [expand(doc, v) for v in schema]
    return schema


def closed(schema: Any) -> Any:
    """The schema with additionalProperties false on every object: a test of completeness."""
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


def test_the_document_is_valid_asyncapi_3(doc: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
    assert not errors, "\n".join(f"{e.json_path}: {e.message[:200]}" for e in errors)
    assert doc["asyncapi"] == "3.0.0"


def test_the_validator_catches_a_broken_document(doc: dict[str, Any]) -> None:
    """The vendored schema really checks the document's structure (not an empty schema)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    broken = json.loads(json.dumps(doc))
    first = next(iter(broken["operations"].values()))
    first["action"] = "publish"  # AsyncAPI 2's word; 3.0 says send/receive
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_references_resolve_and_operations_use_their_channels_messages(
    doc: dict[str, Any],
) -> None:
    for ref in refs(doc):
        resolve(doc, {"$ref": ref})
    for operation_id, operation in doc["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), operation_id


def test_address_parameters_match_the_placeholders(doc: dict[str, Any]) -> None:
    for channel_id, channel in doc["channels"].items():
        placeholders = set(re.findall(r"\{([a-z_]+)\}", channel["address"]))
        assert placeholders == set(channel.get("parameters", {})), channel_id


def test_every_event_in_the_code_is_documented_and_nothing_else(doc: dict[str, Any]) -> None:
    in_code = {v for k, v in vars(event_names).items() if k.isupper() and isinstance(v, str)}
    assert set(PUBLIC_EVENT_NAMES) | set(INTERNAL_EVENT_NAMES) == in_code
    documented = set(channels_by_event(doc)) - {"dead_letter"}
    assert documented == in_code
    assert len(PUBLIC_EVENT_NAMES) == len(set(PUBLIC_EVENT_NAMES)) == 16


def _fill(doc: dict[str, Any], channel: dict[str, Any]) -> str:
    """The channel's address with each parameter's example."""
    address: str = channel["address"]
    for name, parameter in channel.get("parameters", {}).items():
        address = address.replace("{" + name + "}", resolve(doc, parameter)["examples"][0])
    return address


@pytest.mark.parametrize("name", PUBLIC_EVENT_NAMES)
def test_public_event_subject_type_and_payload(doc: dict[str, Any], name: str) -> None:
    _, channel = channels_by_event(doc)[name]
    assert _fill(doc, channel) == public_subject(PAMANUKAN, name)
    assert {"name": "public"} in channel["tags"]
    message = message_of(doc, channel)
    type_schema = resolve(doc, message["headers"])["allOf"][1]["properties"]["ce-type"]
    assert type_schema["const"] == event_type(name)
    payload = public_payload(name).DESCRIPTOR.name
    assert resolve(doc, message["payload"]) is doc["components"]["schemas"][payload]


@pytest.mark.parametrize("name", INTERNAL_EVENT_NAMES)
def test_internal_event_subject_and_type(doc: dict[str, Any], name: str) -> None:
    _, channel = channels_by_event(doc)[name]
    assert channel["address"] == internal_subject(name)
    assert {"name": "internal"} in channel["tags"]
    message = message_of(doc, channel)
    type_schema = resolve(doc, message["headers"])["allOf"][1]["properties"]["ce-type"]
    assert type_schema["const"] == event_type(name)


_JSON_TYPES = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT32: "integer",
    FieldDescriptor.TYPE_INT64: "integer",
    FieldDescriptor.TYPE_BOOL: "boolean",
}


@pytest.mark.parametrize(
    ("schema_name", "descriptor"),
    [
        ("ApplicationEvent", events_pb2.ApplicationEvent.DESCRIPTOR),
        ("ComplaintEvent", events_pb2.ComplaintEvent.DESCRIPTOR),
        ("OtpRequested", events_pb2.OtpRequested.DESCRIPTOR),
        ("SignInNotice", events_pb2.SignInNotice.DESCRIPTOR),
    ],
)
def test_payload_schemas_have_exactly_the_proto_fields(
    doc: dict[str, Any], schema_name: str, descriptor: Descriptor
) -> None:
    schema = doc["components"]["schemas"][schema_name]
    proto = {f.name: _JSON_TYPES[f.type] for f in descriptor.fields}
    documented = {
        name: prop["type"] for name, prop in schema["properties"].items() if "type" in prop
    }
    assert set(schema["properties"]) == set(proto)
    assert documented == {k: v for k, v in proto.items() if k in documented}
    # Enum-only properties (decision) are strings in the proto.
    for name in set(proto) - set(documented):
        assert proto[name] == "string" and "enum" in schema["properties"][name]


def test_cloudevent_headers_are_exactly_the_documented_ones(doc: dict[str, Any]) -> None:
    schema = doc["components"]["schemas"]["CloudEventHeaders"]
    written = CloudEvent(
        id="x", source="/services/intake", type="t", data={}, subject="s"
    ).headers()
    assert set(schema["properties"]) == set(written)
    assert set(schema["required"]) == set(written) - {"ce-subject"}


def test_dead_letters_are_documented_as_the_mover_writes_them(doc: dict[str, Any]) -> None:
    _, channel = channels_by_event(doc)["dead_letter"]
    stream, consumer = "SMARTDESA_EVENTS", "notification-events"
    address = channel["address"].replace("{stream}", stream).replace("{consumer}", consumer)
    assert address == dead_letters.dead_letter_subject(stream, consumer)
    assert channel["parameters"]["stream"]["enum"] == list(DEAD_LETTER_SOURCES)
    headers = resolve(doc, message_of(doc, channel)["headers"])
    written = {
        dead_letters.REASON, dead_letters.STREAM, dead_letters.SEQUENCE, dead_letters.CONSUMER,
        dead_letters.SUBJECT, dead_letters.DELIVERIES, dead_letters.DEAD_AT,
        dead_letters.ORIGINAL, "Nats-Msg-Id",
    }  # fmt: skip
    assert set(headers["properties"]) == set(headers["required"]) == written
    assert headers["properties"][dead_letters.REASON]["enum"] == sorted(
        [dead_letters.MAX_DELIVERIES, dead_letters.TERMINATED]
    )


def test_streams_are_documented_as_declared(doc: dict[str, Any]) -> None:
    documented = {s["name"]: s for s in doc["x-jetstream"]["streams"]}
    assert set(documented) == {c.name for c in STREAMS}
    for config in STREAMS:
        assert config.name is not None
        stream = documented[config.name]
        assert stream["subjects"] == config.subjects
        assert stream["maxAgeSeconds"] == config.max_age
        assert stream["duplicateWindowSeconds"] == config.duplicate_window


def test_every_produced_event_validates_against_the_document(
    doc: dict[str, Any], produced: list[Produced]
) -> None:
    by_event = channels_by_event(doc)
    seen = set()
    for item in produced:
        event = item.event
        seen.add(event.name)
        _, channel = by_event[event.name]
        message = message_of(doc, channel)
        headers = event.headers()
        jsonschema.validate(headers, expand(doc, message["headers"]))
        body = json.loads(event.body())
        jsonschema.validate(body, closed(expand(doc, message["payload"])))
        # The address pattern, with this event's area, is the subject it went out on.
        if event.name in PUBLIC_EVENT_NAMES:
            area = {
                "kabupaten": body["kabupaten_code"].replace(".", ""),
                "kecamatan": body["kecamatan_code"].replace(".", ""),
                "desa": body["desa_code"].replace(".", ""),
            }
            address = channel["address"]
            for key, value in area.items():
                address = address.replace("{" + key + "}", value)
            assert address == item.nats_subject
        else:
            assert channel["address"] == item.nats_subject
    assert seen == set(PUBLIC_EVENT_NAMES) | set(INTERNAL_EVENT_NAMES)


def test_every_public_message_has_an_example_that_validates(doc: dict[str, Any]) -> None:
    for name in PUBLIC_EVENT_NAMES:
        _, channel = channels_by_event(doc)[name]
        message = message_of(doc, channel)
        (example,) = message["examples"]
        jsonschema.validate(example["headers"], expand(doc, message["headers"]))
        jsonschema.validate(example["payload"], closed(expand(doc, message["payload"])))
