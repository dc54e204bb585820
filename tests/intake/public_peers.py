"""Signing and verification as intake's public pages reach them (standar pelayanan, open
performance figures): their real gRPC servicers on their own migrated SQLite databases, on
loopback ports the OS chose. Signing holds the seeded catalogue and the dev desa profiles (no
signer: nothing is signed here); verification holds routes, the register and the application
projection."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.auth import InternalAuth
from common.db import create_engine, session_factory
from common.domain import SignerKind
from common.migrations import upgrade
from common.rpc import SIGNING, VERIFICATION, GrpcServer, client_channel
from common.secrets import ensure_dev_secrets
from services.intake.config import Settings
from services.signing import servicer as signing_servicer
from services.signing.catalogue.definition import load_seed
from services.signing.catalogue.store import sync_seed
from services.signing.issuing import LetterIssuer
from services.signing.seed import seed_dev_profiles
from services.signing.signers import SignerSet
from services.verification import servicer as directory_servicer
from services.verification.catalogue import Catalogue
from services.verification.population import servicer as population_servicer


@dataclass
class Peers:
    signing: async_sessionmaker[AsyncSession]
    verification: async_sessionmaker[AsyncSession]
    signing_port: int
    verification_port: int


@pytest.fixture
async def peers(base_settings: Settings, data_dir: Path) -> AsyncIterator[Peers]:
    ensure_dev_secrets(base_settings)
    signing_engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'signing-peer.db'}")
    verification_engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'verification-peer.db'}")
    await upgrade(signing_engine, "signing")
    await upgrade(verification_engine, "verification")
    signing_sessions = session_factory(signing_engine)
    verification_sessions = session_factory(verification_engine)
    await sync_seed(signing_sessions, load_seed())
    letters_dir = data_dir / "signing" / "letters"
    await seed_dev_profiles(signing_sessions, letters_dir.parent / "assets")
    issuer = LetterIssuer(
        signing_sessions,
        SignerSet({}, {}, SignerKind.LOCAL),
        letters_dir,
        "https://verifikasi.example.test",
    )
    signing = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, SIGNING),
        [signing_servicer.SERVICE_NAME, "smartdesa.v1.CatalogueService"],
        signing_servicer.register(issuer, signing_sessions, lambda: None),
    )
    await signing.start()
    # Verification reads routes from the signing peer's catalogue, as it reads signing's.
    catalogue_channel = client_channel(
        f"127.0.0.1:{signing.port}",
        InternalAuth.from_settings(base_settings, VERIFICATION),
        SIGNING,
    )
    add_directory = directory_servicer.register(
        verification_sessions, Catalogue(catalogue_pb2_grpc.CatalogueServiceStub(catalogue_channel))
    )
    add_population = population_servicer.register(verification_sessions)

    def add_verification(server: grpc.aio.Server) -> None:
        add_directory(server)
        add_population(server)

    verification = GrpcServer(
        "127.0.0.1:0",
        InternalAuth.from_settings(base_settings, VERIFICATION),
        [directory_servicer.SERVICE_NAME, population_servicer.SERVICE_NAME],
        add_verification,
    )
    await verification.start()
    try:
        yield Peers(signing_sessions, verification_sessions, signing.port, verification.port)
    finally:
        await verification.stop(0)
        await catalogue_channel.close()
        await signing.stop(0)
        await signing_engine.dispose()
        await verification_engine.dispose()


def peer_settings(base_settings: Settings, peers: Peers) -> Settings:
    return base_settings.model_copy(
        update={
            "signing_grpc_target": f"127.0.0.1:{peers.signing_port}",
            "verification_grpc_target": f"127.0.0.1:{peers.verification_port}",
        }
    )
