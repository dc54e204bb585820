"""Domain refusals as each layer answers them: problem+json on the API, the error page (or a
message beside the form) on the pages, a status code over gRPC; one status per kind."""

import grpc
import httpx
import pytest
from fastapi import FastAPI

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
from common.http import PROBLEM_JSON, Problem, domain_status, install_problem_handlers
from common.rpc import domain_code
from common.web import install_web
from common.web.refusals import refusal_of
from services.intake.applications import InvalidApplication
from services.verification.web.pages import STATIC_DIR, templates

pytestmark = pytest.mark.unit

KINDS = [
    (NotFound, 404, grpc.StatusCode.NOT_FOUND),
    (Forbidden, 403, grpc.StatusCode.PERMISSION_DENIED),
    (Conflict, 409, grpc.StatusCode.FAILED_PRECONDITION),
    (Invalid, 422, grpc.StatusCode.INVALID_ARGUMENT),
    (Unavailable, 503, grpc.StatusCode.UNAVAILABLE),
    (Unauthenticated, 401, grpc.StatusCode.UNAUTHENTICATED),
    (TooLarge, 413, grpc.StatusCode.INVALID_ARGUMENT),
    (UnsupportedType, 415, grpc.StatusCode.INVALID_ARGUMENT),
    (Malformed, 400, grpc.StatusCode.INVALID_ARGUMENT),
]


@pytest.mark.parametrize(("kind", "status", "code"), KINDS)
def test_each_kind_has_one_http_status_and_one_grpc_code(
    kind: type[DomainError], status: int, code: grpc.StatusCode
) -> None:
    error = kind("x", "Pesan.")
    assert domain_status(error) == status
    assert domain_code(error) == code


def test_every_kind_is_in_the_tables() -> None:
    """A new kind without its status would answer 500 everywhere."""
    kinds = set(DomainError.__subclasses__())
    assert kinds == {kind for kind, _, _ in KINDS} | {TooMany}
    assert domain_status(TooMany("x", "Tunggu.", retry_after=5)) == 429
    assert domain_code(TooMany("x", "Tunggu.", retry_after=5)) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_service_s_own_refusal_answers_as_its_kind() -> None:
    refused = InvalidApplication("Keperluan wajib diisi.", "purpose")
    assert domain_status(refused) == 422
    assert (refused.code, refused.field, str(refused)) == (
        "invalid-application",
        "purpose",
        "Keperluan wajib diisi.",
    )


def test_an_unclassified_refusal_is_a_server_fault() -> None:
    assert domain_status(DomainError("x", "?")) == 500
    assert domain_code(DomainError("x", "?")) == grpc.StatusCode.INTERNAL


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_the_api_answers_a_refusal_as_problem_json_with_its_field_and_details() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/api/v1/submit")
    async def submit() -> None:
        raise Invalid("missing-requirements", "Syarat belum lengkap: KK", missing=["KK"])

    @app.get("/api/v1/gone")
    async def gone() -> None:
        raise NotFound("not-found", "Permohonan tidak ditemukan.")

    async with _client(app) as client:
        refused = await client.post("/api/v1/submit")
        missing = await client.get("/api/v1/gone")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)
    assert refused.json() == {
        "type": "https://smartdesa.subang.go.id/problems/missing-requirements",
        "title": "Data tidak dapat diproses",
        "status": 422,
        "detail": "Syarat belum lengkap: KK",
        "missing": ["KK"],
    }
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Permohonan tidak ditemukan."
    assert "field" not in missing.json()


async def test_a_field_refusal_names_the_field() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/api/v1/applications")
    async def create() -> None:
        raise InvalidApplication("Keperluan wajib diisi.", "purpose")

    async with _client(app) as client:
        r = await client.post("/api/v1/applications")
    assert (r.status_code, r.json()["field"], r.json()["detail"]) == (
        422,
        "purpose",
        "Keperluan wajib diisi.",
    )


async def test_a_page_shows_an_uncaught_refusal_as_the_error_page_and_the_api_as_problem() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path="/masuk")

    @app.get("/permohonan/x")
    async def page() -> None:
        raise Conflict("locked", "Permohonan sudah diajukan.")

    @app.get("/api/v1/permohonan/x")
    async def api() -> None:
        raise Conflict("locked", "Permohonan sudah diajukan.")

    async with _client(app) as client:
        shown = await client.get("/permohonan/x")
        answered = await client.get("/api/v1/permohonan/x")
    assert shown.status_code == 409
    assert shown.headers["content-type"].startswith("text/html")
    assert "Permohonan sudah diajukan." in shown.text
    assert answered.status_code == 409
    assert answered.headers["content-type"].startswith(PROBLEM_JSON)
    assert answered.json()["type"].endswith("/locked")


def test_a_page_reads_a_refusal_and_a_problem_alike() -> None:
    refused = refusal_of(Invalid("invalid-route", "Dua aturan.", errors=["a", "b"]))
    assert (refused.status, refused.message, refused.code, refused.field) == (
        422,
        "Dua aturan.",
        "invalid-route",
        None,
    )
    assert refused.details == {"errors": ["a", "b"]}
    problem = refusal_of(Problem(403, "Bukan peran Anda.", code="wrong-role", field="keputusan"))
    assert (problem.status, problem.message, problem.code, problem.field, problem.details) == (
        403,
        "Bukan peran Anda.",
        "wrong-role",
        "keputusan",
        {},
    )


async def test_a_refusal_to_wait_says_when_in_a_header_on_the_api_and_the_page() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path="/masuk")

    def refuse() -> None:
        raise TooMany("too-many-codes", "Terlalu sering meminta kode masuk.", retry_after=120)

    @app.post("/api/v1/auth/otp")
    async def api() -> None:
        refuse()

    @app.post("/masuk")
    async def page() -> None:
        refuse()

    async with _client(app) as client:
        answered = await client.post("/api/v1/auth/otp")
        shown = await client.post("/masuk")
    assert (answered.status_code, answered.headers["retry-after"]) == (429, "120")
    assert answered.json()["retry_after"] == 120
    assert (shown.status_code, shown.headers["retry-after"]) == (429, "120")
    assert "Terlalu sering meminta kode masuk." in shown.text
    assert refusal_of(TooMany("x", "Tunggu.", retry_after=9)).headers == {"Retry-After": "9"}


async def test_a_page_asks_a_visitor_who_is_not_signed_in_to_sign_in() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_web(app, static_dir=STATIC_DIR, templates=templates, sign_in_path="/masuk")

    @app.get("/permohonan")
    async def page() -> None:
        raise Unauthenticated("not-signed-in", "Silakan masuk.")

    async with _client(app) as client:
        shown = await client.get("/permohonan")
    assert shown.status_code == 303
    assert shown.headers["location"] == "/masuk?lanjut=/permohonan"
