"""The app as a whole: readiness, its documented API, and the gRPC health service."""

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.intake.conftest import Intake


async def test_healthz_and_openapi(intake: Intake) -> None:
    assert (await intake.http.get("/healthz")).json() == {"status": "ok"}
    spec = (await intake.http.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/otp",
        "/api/v1/auth/token",
        "/api/v1/letter-types",
        "/api/v1/applications",
        "/api/v1/applications/{application_id}",
        "/api/v1/applications/{application_id}/attachments",
        "/api/v1/applications/{application_id}/submit",
        "/api/v1/applications/{application_id}/resubmit",
        "/api/v1/applications/{application_id}/letter.pdf",
    ):
        assert path in paths, path
    upload = paths["/api/v1/applications/{application_id}/attachments"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


async def test_grpc_health_reports_serving_without_a_token(intake: Intake) -> None:
    target = f"127.0.0.1:{intake.runtime.grpc_server.port}"
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "smartdesa.v1.IntakeService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
