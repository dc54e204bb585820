"""gRPC plumbing: a server with the standard health service and internal-token authentication,
and client channels that present this service's token."""

import importlib
import json
import logging
import pkgutil
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.instrumentation.grpc.filters import health_check, negate

from common.auth import InternalAuth, InvalidToken
from common.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    TooLarge,
    TooMany,
    Unauthenticated,
    Unavailable,
    UnsupportedType,
)

log = logging.getLogger(__name__)

_HEALTH_PREFIX = "/grpc.health.v1.Health/"

# Service names used as token audiences.
INTAKE = "intake"
VERIFICATION = "verification"
SIGNING = "signing"
NOTIFICATION = "notification"
WORKER = "worker"
# Signers that ask for a passphrase per signature (BSrE) get it in this call metadata, so it
# never enters a request message, a workflow history or a log.
SIGNING_PASSPHRASE_METADATA = "smartdesa-signing-passphrase"  # noqa: S105 (a header name)
# The camat's, for the "mengetahui" approval signature of a kecamatan that signs through BSrE
# (the Kades' and the camat's are two people's passphrases: never one header for both).
SIGNING_CAMAT_PASSPHRASE_METADATA = "smartdesa-signing-camat-passphrase"  # noqa: S105


# A domain refusal answered over gRPC: the kind's status code, the message as details.
DOMAIN_CODES: dict[type[DomainError], grpc.StatusCode] = {
    NotFound: grpc.StatusCode.NOT_FOUND,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    Invalid: grpc.StatusCode.INVALID_ARGUMENT,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    TooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    UnsupportedType: grpc.StatusCode.INVALID_ARGUMENT,
    TooMany: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Malformed: grpc.StatusCode.INVALID_ARGUMENT,
}


def domain_code(error: DomainError) -> grpc.StatusCode:
    for kind, code in DOMAIN_CODES.items():
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


# Attachments (up to 10 MB each) and signed letters travel as single messages; a walk-in
# (FileWalkIn) carries every scan of its letter type at once: up to 5 syarat of 10 MB, plus room
# (the catalogue refuses a type with more wajib syarat than this, services/signing/catalogue/
# definition.py; SKNNM asks for 5; tests/intake/test_walk_in.py).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_SCANS_PER_MESSAGE = 5
MAX_MESSAGE_BYTES = MAX_SCANS_PER_MESSAGE * MAX_FILE_BYTES + 8 * 1024 * 1024
_MESSAGE_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


# Methods that only read (by name), and so may be asked again when the replica answering them
# dies mid-call: the UNAVAILABLE of a killed pod then reaches the caller only if every attempt
# fails. Writes are not retried here, since the dead replica may have done them; their callers
# (a Temporal activity, a resident's retry after "coba lagi") decide.
_READ_PREFIXES = ("Get", "List", "Find", "Check", "Verify", "Read", "Example", "Preview", "Render")
READ_ATTEMPTS = 4
_RETRY_POLICY = {
    "maxAttempts": READ_ATTEMPTS,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 3,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
_read_retry_json: str | None = None


def read_methods() -> list[tuple[str, str]]:
    """(service, method) of every read-only rpc in the contracts."""
    import smartdesa.v1

    found = []
    for module in pkgutil.iter_modules(smartdesa.v1.__path__):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(f"smartdesa.v1.{module.name}").DESCRIPTOR
        for service in descriptor.services_by_name.values():
            for method in service.methods:
                if method.name.startswith(_READ_PREFIXES):
                    found.append((service.full_name, method.name))
    return sorted(found)


def _read_retry_config() -> str:
    global _read_retry_json
    if _read_retry_json is None:
        names = [{"service": service, "method": method} for service, method in read_methods()]
        _read_retry_json = json.dumps(
            {"methodConfig": [{"name": names, "retryPolicy": _RETRY_POLICY}]}
        )
    return _read_retry_json


class InternalAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses calls without a valid internal token (health checks excepted: probes have none)."""

    def __init__(self, auth: InternalAuth) -> None:
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if handler_call_details.method.startswith(_HEALTH_PREFIX):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        try:
            if not header.startswith("Bearer "):
                raise InvalidToken("no bearer token")
            self._auth.verify(header.removeprefix("Bearer "))
        except InvalidToken:
            return _deny()
        return await continuation(handler_call_details)


def _deny() -> grpc.RpcMethodHandler:
    async def abort(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "internal token missing or invalid")

    return grpc.unary_unary_rpc_method_handler(abort)


class GrpcServer:
    """A grpc.aio server on `bind` with the health service; `register` adds the servicers."""

    def __init__(
        self,
        bind: str,
        auth: InternalAuth,
        service_names: Sequence[str],
        register: Callable[[grpc.aio.Server], None],
    ) -> None:
        self.server = grpc.aio.server(
            # Tracing first, so a refused call is traced too; health probes make no spans.
            interceptors=[
                aio_server_interceptor(filter_=negate(health_check())),  # type: ignore[no-untyped-call]
                InternalAuthInterceptor(auth),
            ],
            options=_MESSAGE_OPTIONS,
        )
        register(self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names = list(service_names)
        self.port = self.server.add_insecure_port(bind)

    async def start(self) -> None:
        await self.server.start()
        for name in ["", *self._service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


class _BearerInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, auth: InternalAuth, audience: str) -> None:
        self._auth = auth
        self._audience = audience

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or [])
        metadata.append(("authorization", f"Bearer {self._auth.token_for(self._audience)}"))
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def client_channel(target: str, auth: InternalAuth, audience: str) -> grpc.aio.Channel:
    """A channel to another service that authenticates every call as this service."""
    return grpc.aio.insecure_channel(
        target,
        options=[*_MESSAGE_OPTIONS, ("grpc.service_config", _read_retry_config())],
        # A client span per call, its context in the metadata (traceparent) for the server.
        interceptors=[*aio_client_interceptors(), _BearerInterceptor(auth, audience)],  # type: ignore[no-untyped-call]
    )
