"""Signing's public pages: the verification page a letter's QR code opens (its route is in
api/routes/verification_page.py), its templates and stylesheet, behind the same security
headers as every page of Smart Desa."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from common.web import SecurityHeaders

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install_pages(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
