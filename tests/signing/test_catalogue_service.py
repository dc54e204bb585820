"""CatalogueService over real gRPC on a running signing service (real database, NATS, dev
PKI): the seed is published at start, publishing makes a new version, a letter records the
version it was issued with and renders again from it, and a seed file never overrides what a
kabupaten operator published."""

from __future__ import annotations  # the async stub type exists only for type checkers

import json
from collections.abc import AsyncIterator
from typing import cast

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from common.auth import InternalAuth
from common.rpc import SIGNING, WORKER, client_channel
from services.signing.catalogue import store
from services.signing.catalogue.definition import load_seed
from tests.signing.conftest import RunningSigning, skd_request
from tests.signing.pdf_text import page_texts, squeeze

SEED = load_seed()
OLD_WORDS = "adalah benar warga yang berdomisili"
NEW_WORDS = "adalah benar penduduk tetap yang berdomisili"


@pytest.fixture
async def catalogue(
    signing: RunningSigning,
) -> AsyncIterator[catalogue_pb2_grpc.CatalogueServiceAsyncStub]:
    auth = InternalAuth.from_settings(signing.settings, WORKER)
    target = f"127.0.0.1:{signing.runtime.grpc_server.port}"
    async with client_channel(target, auth, SIGNING) as channel:
        yield cast(
            "catalogue_pb2_grpc.CatalogueServiceAsyncStub",
            catalogue_pb2_grpc.CatalogueServiceStub(channel),
        )


def _skd_reworded() -> str:
    data = json.loads(SEED["SKD"].to_json())
    for block in data["body"]:
        if OLD_WORDS in block.get("text", ""):
            block["text"] = block["text"].replace(OLD_WORDS, NEW_WORDS)
    return json.dumps(data)


async def test_the_seed_is_published_at_start(
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub,
) -> None:
    listed = await catalogue.ListLetterTypes(catalogue_pb2.ListCatalogueRequest())
    assert [t.code for t in listed.letter_types] == sorted(SEED)
    for t in listed.letter_types:
        assert (t.version, t.published_by, t.template_version) == (1, "seed", f"{t.code}-v1")
        assert t.sha256 == SEED[t.code].digest
        assert t.published_at.seconds > 0
    skl = await catalogue.GetLetterType(catalogue_pb2.GetLetterTypeRequest(code="SKL"))
    assert skl.title == "SURAT KETERANGAN KELAHIRAN" and skl.kode_klasifikasi == "400.12.3"
    assert [(f.code, f.version) for f in skl.forms] == [("F-2.01", 2)]  # the page it prints
    assert {f.name: f.source for f in skl.fields}["nama_anak"] == "resident"
    assert {f.name: f.source for f in skl.fields}["nama"] == "register"
    assert [s.kind for s in skl.syarat] == ["wajib"] * len(skl.syarat)
    assert skl.route_signer == "kades" and skl.route_steps[0].role == "kasi_pemerintahan"
    assert skl.body[0].kind == "heading" and skl.body[-1].kind == "signature"
    online = await catalogue.ListLetterTypes(catalogue_pb2.ListCatalogueRequest(online_only=True))
    assert {t.code for t in online.letter_types} == {c for c, d in SEED.items() if d.online}


async def test_unknown_types_and_versions_are_not_found(
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub,
) -> None:
    for request in (
        catalogue_pb2.GetLetterTypeRequest(code="NOPE"),
        catalogue_pb2.GetLetterTypeRequest(code="SKD", version=9),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await catalogue.GetLetterType(request)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await catalogue.GetLetterType(catalogue_pb2.GetLetterTypeRequest(code="SKD", version=-1))
    assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("definition_json", "reason"),
    [
        ("not json", "Definisi ditolak"),
        ("[1]", "objek JSON"),
        (json.dumps({**json.loads(SEED["SKD"].to_json()), "kode_klasifikasi": "x"}), "Permendagri"),
        (
            json.dumps(
                {
                    **json.loads(SEED["SKD"].to_json()),
                    "body": [{"type": "paragraph", "text": "#eval"}],
                }
            ),
            "judul bernomor",
        ),
    ],
)
async def test_a_broken_definition_is_refused_and_nothing_published(
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub, definition_json: str, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await catalogue.PublishLetterType(
            catalogue_pb2.PublishLetterTypeRequest(
                definition_json=definition_json, published_by="kab.operator"
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (refused.value.details() or "")
    skd = await catalogue.GetLetterType(catalogue_pb2.GetLetterTypeRequest(code="SKD"))
    assert skd.version == 1


async def test_publishing_makes_a_version_and_letters_keep_theirs(
    signing: RunningSigning, catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub
) -> None:
    issuer = signing.runtime.issuer
    before = await issuer.issue(skd_request("cat-1"))
    assert before.template_version == "SKD-v1"

    same = await catalogue.PublishLetterType(
        catalogue_pb2.PublishLetterTypeRequest(
            definition_json=SEED["SKD"].to_json(), published_by="kab.operator"
        )
    )
    assert not same.created and same.letter_type.version == 1

    published = await catalogue.PublishLetterType(
        catalogue_pb2.PublishLetterTypeRequest(
            definition_json=_skd_reworded(), published_by="kab.operator"
        )
    )
    assert published.created
    assert published.letter_type.version == 2
    assert published.letter_type.published_by == "kab.operator"

    after = await issuer.issue(skd_request("cat-2"))
    assert after.template_version == "SKD-v2"
    assert squeeze(NEW_WORDS) in squeeze(page_texts(await issuer.read_pdf(after))[0])
    assert squeeze(OLD_WORDS) in squeeze(page_texts(await issuer.read_pdf(before))[0])

    # The version a letter recorded is still there, and renders its wording again.
    old = await catalogue.GetLetterType(catalogue_pb2.GetLetterTypeRequest(code="SKD", version=1))
    assert old.sha256 == SEED["SKD"].digest
    async with signing.runtime.sessions() as session:
        again = await store.definition_for_letter(session, before.template_version)
        legacy = await store.definition_for_letter(session, "SKD-2026.2")
    assert again is not None and again.version == 1 and legacy == again
    preview = await issuer.preview(skd_request("cat-3"))
    assert squeeze(NEW_WORDS) in squeeze(page_texts(preview)[0])

    # Restarting with the unchanged seed leaves the operator's version current.
    assert await store.sync_seed(signing.runtime.sessions, SEED) == []
    async with signing.runtime.sessions() as session:
        current = await store.current(session, "SKD")
    assert current is not None and current.version == 2


async def test_a_changed_seed_file_publishes_a_new_seed_version(signing: RunningSigning) -> None:
    from dataclasses import replace

    changed = {"SKU": replace(SEED["SKU"], description="Keterangan usaha, kata yang baru.")}
    assert await store.sync_seed(signing.runtime.sessions, changed) == ["SKU"]
    assert await store.sync_seed(signing.runtime.sessions, changed) == []
    async with signing.runtime.sessions() as session:
        sku = await store.current(session, "SKU")
        who = await store.published_by(session, "SKU", 2)
    assert sku is not None and sku.version == 2 and sku.description.endswith("baru.")
    assert who[0] == "seed"


async def test_a_type_without_a_kode_is_issued_once_the_desa_sets_one(
    signing: RunningSigning,
) -> None:
    from dataclasses import replace

    from services.signing.issuing import IssueRefused
    from services.signing.models import DesaProfile
    from tests.signing.conftest import PAMANUKAN

    issuer = signing.runtime.issuer
    request = replace(
        skd_request("cat-skkk"),
        letter_type="SKKK",
        fields={
            **skd_request("x").fields,
            "merk": "Honda Supra X 125",
            "nomor_polisi": "T 1234 AB",
            "nomor_rangka": "MH1JB9110AK123456",
            "nomor_mesin": "JB91E1123456",
        },
    )
    assert SEED["SKKK"].kode_klasifikasi == "belum ditetapkan"
    with pytest.raises(IssueRefused) as refused:
        await issuer.issue(request)
    assert refused.value.precondition and "belum ditetapkan" in refused.value.reason
    async with signing.runtime.sessions() as session:
        profile = await session.get(DesaProfile, PAMANUKAN)
        assert profile is not None
        profile.kode_klasifikasi = {"SKKK": "500.2"}
        session.add(profile)
        await session.commit()
    letter = await issuer.issue(request)
    assert letter.number.startswith("500.2/001/") and letter.template_version == "SKKK-v1"
    text = squeeze(page_texts(await issuer.read_pdf(letter))[0])
    for expected in ("SURAT KETERANGAN KEPEMILIKAN KENDARAAN", "Nomor Polisi : T 1234 AB"):
        assert squeeze(expected) in text
