"""Fixtures for the signing service: the app running in-process on a fresh data folder (real
SQLite, real dev PKI, real gRPC server on a loopback port), and a sample request."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.signing.config import Settings
from services.signing.issuing import IssueRequest
from services.signing.main import create_app
from services.signing.runtime import Runtime

PAMANUKAN = "32.13.11.2004"
RANCASARI = "32.13.11.2002"
# Typst markup, a closing bracket, a quote and a backslash: must come out printed as is.
INJECTION = '#set page(fill: red) ] " \\ *bold*'
PUBLIC_URL = "https://verifikasi.example.test"


def make_settings(data_dir: Path, nats_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "profile": "dev",
        "data_dir": data_dir,
        "nats_url": nats_url,
        "signing_workers": 0,  # sign in a thread; the process pool has its own test
        "signing_grpc_host": "127.0.0.1",
        "signing_grpc_port": 0,
        "signing_database_url": None,
        "signing_pki_dir": None,
        "public_verification_url": PUBLIC_URL,
        **overrides,
    }
    return Settings.model_validate(values)


def skd_request(
    application_id: str, desa_code: str = PAMANUKAN, **changes: str | bool
) -> IssueRequest:
    values: dict[str, Any] = {
        "application_id": application_id,
        "desa_code": desa_code,
        "letter_type": "SKD",
        "purpose": "Persyaratan melamar pekerjaan",
        "nik": "3213115705900001",
        "signer_role": "kades",
        **changes,
    }
    return IssueRequest(
        fields={
            "nama": "Siti Aminah",
            "tempat_lahir": "Subang",
            "tanggal_lahir": "1990-05-17",
            "jenis_kelamin": "P",
            "agama": "Islam",
            "pekerjaan": "Pedagang",
            "alamat": "Dusun Krajan RT 001/RW 002",
        },
        **values,
    )


@dataclass
class RunningSigning:
    runtime: Runtime
    http: httpx.AsyncClient

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@pytest.fixture
def settings(data_dir: Path, nats_url: str) -> Settings:
    return make_settings(data_dir, nats_url)


@pytest.fixture
async def signing(settings: Settings) -> AsyncIterator[RunningSigning]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningSigning(app.state.runtime, client)
