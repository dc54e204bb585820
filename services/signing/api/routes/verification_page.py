"""The page a letter's QR code opens: is this letter in the register, and is it in force; and a
plain form to check a letter's PDF, answered in words (the same check as the API's)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from common.http import Problem
from services.signing.api.deps import RuntimeDep, SessionDep, SettingsDep
from services.signing.api.routes.verifications import check_uploaded_pdf
from services.signing.register import find_by_code

router = APIRouter(tags=["verifikasi"])

_pages = Environment(
    loader=PackageLoader("services.signing.web", "templates"),
    autoescape=select_autoescape(["html"]),
)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/verifikasi/{code}", response_class=HTMLResponse)
async def verification_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The page; with `Accept: application/json` its JSON twin (as /api/v1/letters/{code})."""
    letter = await find_by_code(session, code, settings.public_verification_url)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if _wants_json(request):
        if letter is None:
            raise Problem(404, "Surat tidak ditemukan.", code="letter-not-found")
        return JSONResponse(letter.to_json(), headers=headers)
    if letter is None:
        html = _pages.get_template("tidak_ditemukan.html").render()
        return HTMLResponse(html, status_code=404, headers=headers)
    html = _pages.get_template("verifikasi.html").render(letter=letter)
    return HTMLResponse(html, headers=headers)


@router.post("/verifikasi/periksa", response_class=HTMLResponse)
async def check_pdf_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """The verification page's upload form: the API's check of the PDF, answered in words.
    Anyone may ask (the letter's holder, a bank); nothing is stored."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    try:
        result = await check_uploaded_pdf(request, runtime, session)
    except Problem as refused:
        html = _pages.get_template("hasil_periksa.html").render(error=refused.detail)
        return HTMLResponse(html, status_code=refused.status, headers=headers)
    html = _pages.get_template("hasil_periksa.html").render(result=result)
    return HTMLResponse(html, headers=headers)
