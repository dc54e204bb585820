"""HTTP plumbing shared by the services: RFC 9457 problem responses and the health route."""

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

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

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Permintaan tidak valid",
    401: "Belum masuk",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Konflik dengan keadaan saat ini",
    413: "Berkas terlalu besar",
    415: "Jenis berkas tidak didukung",
    422: "Data tidak dapat diproses",
    429: "Terlalu banyak permintaan",
    500: "Kesalahan pada server",
    502: "Layanan lain tidak menjawab",
    503: "Layanan belum siap",
}


class Problem(Exception):
    """Raise to answer with application/problem+json. `detail` is read by people: Bahasa
    Indonesia where a resident or staff member reads it."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers
        self.extra = extra


# Each kind of domain refusal answers with one status, on the API and on the pages alike.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    Malformed: 400,
    Unauthenticated: 401,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedType: 415,
    Invalid: 422,
    TooMany: 429,
    Unavailable: 503,
}

# Details a client must also find in a header: when to try again (seconds), and where a
# resumable upload stands (bytes received).
HEADER_DETAILS = {"retry_after": "Retry-After", "offset": "Upload-Offset"}


def domain_status(error: DomainError) -> int:
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(error, kind):
            return status
    return 500  # the bare base: a refusal nobody classified is a fault of ours


def domain_headers(error: DomainError) -> dict[str, str]:
    """The headers a refusal answers with, on the API and on the pages alike."""
    return {
        header: str(error.details[name])
        for name, header in HEADER_DETAILS.items()
        if name in error.details
    }


def domain_problem(error: DomainError) -> JSONResponse:
    """A domain refusal as problem+json: its code, message, field and details."""
    extra: dict[str, Any] = {"field": error.field} if error.field is not None else {}
    headers = domain_headers(error)
    return problem_response(
        domain_status(error),
        error.message,
        code=error.code,
        headers=headers or None,
        **extra,
        **error.details,
    )


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://smartdesa.subang.go.id/problems/{code}" if code else "about:blank",
        "title": _TITLES.get(status, "Kesalahan"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_message(err: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
    kind = str(err.get("type", ""))
    if kind == "missing":
        return f"{where}: wajib diisi"
    if kind.startswith("string_too_long"):
        return f"{where}: terlalu panjang"
    if kind.startswith("string_too_short"):
        return f"{where}: terlalu pendek"
    if kind.startswith(("string_type", "int_", "dict_type", "model_type")):
        return f"{where}: bentuk isian tidak sesuai"
    if kind == "value_error":
        # Our own validators raise ValueError with an Indonesian message.
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return f"{where}: isian tidak valid"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, code=exc.code, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, http_error_detail(exc), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = validation_messages(exc)
        return problem_response(422, "; ".join(messages), code="validation", errors=messages)


def http_error_detail(exc: StarletteHTTPException) -> str:
    """Starlette's own errors (unknown path, wrong method) in Indonesian."""
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
    if exc.status_code == 404 and detail == "Not Found":
        detail = "Alamat yang diminta tidak ada."
    if exc.status_code == 405:
        detail = "Metode ini tidak didukung untuk alamat ini."
    return detail


def validation_messages(exc: RequestValidationError) -> list[str]:
    return [_validation_message(dict(e)) for e in exc.errors()]


def pdf_response(
    content: bytes,
    filename: str,
    *,
    inline: bool = False,
    cache_control: str = "private, no-store",
    headers: dict[str, str] | None = None,
) -> Response:
    """A PDF shown in the browser (`inline`) or downloaded. Letters carry personal data: by
    default no shared cache keeps them."""
    disposition = "inline" if inline else "attachment"
    return Response(
        content=content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": cache_control,
            **(headers or {}),
        },
    )


def health_router(is_ready: Any = None) -> APIRouter:
    """`GET /healthz`: 200 once the service has finished starting (uvicorn serves nothing before
    the lifespan startup completes), 503 if `is_ready()` says otherwise."""
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        if is_ready is not None and not is_ready():
            return problem_response(503, "Layanan belum siap.")
        return JSONResponse({"status": "ok"})

    return router
