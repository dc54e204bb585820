"""The editor's side of CatalogueService over real gRPC on a running signing service: drafts are
kept as typed and previewed as PNG through the letter renderer, a desa's wording of a type's
body is used for that desa's next letter only, and letters issued before (or for other desa)
still render from what they recorded, byte for byte."""

from __future__ import annotations  # the async stub type exists only for type checkers

import json
from dataclasses import replace

import grpc
import pytest
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc

from services.signing.catalogue import store
from services.signing.catalogue.definition import load_seed
from services.signing.issuing import IssueRefused
from services.signing.rendering import build_document, compile_pdf
from tests.signing.conftest import RANCASARI, RunningSigning, skd_request
from tests.signing.pdf_text import page_texts, squeeze
from tests.signing.test_catalogue import HOSTILE
from tests.signing.test_catalogue_service import catalogue as catalogue  # noqa: F401 (fixture)

SEED = load_seed()
PNG = b"\x89PNG\r\n\x1a\n"
OLD_WORDS = "adalah benar warga yang berdomisili"
DESA_WORDS = "adalah benar warga Desa kami yang bertempat tinggal"


def _key(code: str = "SKD", desa_code: str = "") -> catalogue_pb2.LetterTypeDraftKey:
    return catalogue_pb2.LetterTypeDraftKey(code=code, desa_code=desa_code)


def _skd_body(old: str, new: str) -> list[dict[str, object]]:
    body: list[dict[str, object]] = json.loads(SEED["SKD"].to_json())["body"]
    for block in body:
        if isinstance(block.get("text"), str) and old in str(block["text"]):
            block["text"] = str(block["text"]).replace(old, new)
    return body


async def test_drafts_are_kept_as_typed_and_previewed(
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub,
) -> None:
    empty = await catalogue.GetLetterTypeDraft(_key("SKNEW"))
    assert empty.draft_json == "" and empty.problem == ""
    data = json.loads(SEED["SKD"].to_json()) | {"code": "SKNEW", "name": "Surat Baru"}
    broken = {**data, "body": data["body"][1:]}
    saved = await catalogue.SaveLetterTypeDraft(
        catalogue_pb2.SaveLetterTypeDraftRequest(
            key=_key("SKNEW"), draft_json=json.dumps(broken), saved_by="diskominfo.subang"
        )
    )
    assert saved.saved_by == "diskominfo.subang" and "judul bernomor" in saved.problem
    again = await catalogue.GetLetterTypeDraft(_key("SKNEW"))
    assert json.loads(again.draft_json) == broken and again.problem == saved.problem
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await catalogue.PreviewLetterType(
            catalogue_pb2.PreviewLetterTypeRequest(key=_key("SKNEW"), draft_json=again.draft_json)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    preview = await catalogue.PreviewLetterType(
        catalogue_pb2.PreviewLetterTypeRequest(key=_key("SKNEW"), draft_json=json.dumps(data))
    )
    assert preview.png.startswith(PNG)
    discarded = await catalogue.SaveLetterTypeDraft(
        catalogue_pb2.SaveLetterTypeDraftRequest(key=_key("SKNEW"), saved_by="diskominfo.subang")
    )
    assert discarded.draft_json == ""
    assert (await catalogue.GetLetterTypeDraft(_key("SKNEW"))).draft_json == ""
    history = await catalogue.ListLetterTypeVersions(
        catalogue_pb2.ListLetterTypeVersionsRequest(code="SKD")
    )
    assert [(v.version, v.published_by) for v in history.versions] == [(1, "seed")]


async def test_a_desa_wording_is_used_for_its_next_letter_only(
    signing: RunningSigning, catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub
) -> None:
    issuer = signing.runtime.issuer
    before = await issuer.issue(skd_request("ovr-1"))
    assert before.template_version == "SKD-v1"

    body = {"body": _skd_body(OLD_WORDS, DESA_WORDS)}
    published = await catalogue.PublishDesaOverride(
        catalogue_pb2.PublishDesaOverrideRequest(
            key=_key("SKD", before.desa_code),
            body_json=json.dumps(body),
            published_by="sekdes.pamanukan",
        )
    )
    assert (published.version, published.base_version, published.created) == (1, 1, True)
    listed = await catalogue.ListDesaOverrides(
        catalogue_pb2.ListDesaOverridesRequest(key=_key("SKD", before.desa_code))
    )
    assert listed.current.version == 1 and listed.current.published_by == "sekdes.pamanukan"

    after = await issuer.issue(skd_request("ovr-2"))
    assert after.template_version == f"SKD-v1-desa-{before.desa_code}-1"
    assert squeeze(DESA_WORDS) in squeeze(page_texts(await issuer.read_pdf(after))[0])
    other = await issuer.issue(skd_request("ovr-3", desa_code=RANCASARI))
    assert other.template_version == "SKD-v1"
    assert squeeze(OLD_WORDS) in squeeze(page_texts(await issuer.read_pdf(other))[0])

    # Each letter renders again from what it recorded, byte for byte.
    plan = await issuer._compose(skd_request("ovr-x"))  # noqa: SLF001 (the content of a letter)
    content = plan.content("400.12.2/001/X/XII/2026", before.created_at, "https://v.test/x")
    async with signing.runtime.sessions() as session:
        old = await store.definition_for_letter(session, before.template_version)
        new = await store.definition_for_letter(session, after.template_version)
    assert old is not None and new is not None
    first = build_document(replace(content, letter_type=SEED["SKD"]))
    again = build_document(replace(content, letter_type=old))
    assert first == again and compile_pdf(first) == compile_pdf(again)
    assert build_document(content) == build_document(replace(content, letter_type=new))

    # The desa goes back to the kabupaten's wording: a new override version, empty.
    back = await catalogue.PublishDesaOverride(
        catalogue_pb2.PublishDesaOverrideRequest(
            key=_key("SKD", before.desa_code), published_by="sekdes.pamanukan"
        )
    )
    assert back.version == 2 and back.body_json == ""
    assert (await issuer.issue(skd_request("ovr-4"))).template_version == "SKD-v1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b[:-1], "tanda tangan"),
        (lambda b: [*b[:-1], {"type": "paragraph", "text": "{tidak_ada}"}, b[-1]], "tidak dikenal"),
        (lambda b: [{**b[0], "kop": "x"}, *b[1:]], "tidak dikenal"),
    ],
)
async def test_an_override_that_does_not_fit_is_refused(
    catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub, change: object, reason: str
) -> None:
    body = change(_skd_body("", ""))  # type: ignore[operator]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await catalogue.PublishDesaOverride(
            catalogue_pb2.PublishDesaOverrideRequest(
                key=_key("SKD", "32.13.11.2004"),
                body_json=json.dumps({"body": body}),
                published_by="sekdes.pamanukan",
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (refused.value.details() or "")


async def test_hostile_override_text_is_printed_not_run(
    signing: RunningSigning, catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub
) -> None:
    hostile = " ".join(HOSTILE)
    marked = hostile.replace("*", "**").replace("{", "{{").replace("}", "}}")
    body = _skd_body(OLD_WORDS, f"{OLD_WORDS} {marked}")
    await catalogue.PublishDesaOverride(
        catalogue_pb2.PublishDesaOverrideRequest(
            key=_key("SKD", "32.13.11.2004"),
            body_json=json.dumps({"body": body}),
            published_by="sekdes.pamanukan",
        )
    )
    letter = await signing.runtime.issuer.issue(skd_request("ovr-hostile"))
    pages = page_texts(await signing.runtime.issuer.read_pdf(letter))
    assert squeeze(f"{OLD_WORDS} {hostile}") in squeeze(pages[0])
    assert "SURAT KETERANGAN DOMISILI" in pages[0]


async def test_an_application_keeps_the_desa_wording_it_started_with(
    signing: RunningSigning, catalogue: catalogue_pb2_grpc.CatalogueServiceAsyncStub
) -> None:
    """The version an application keeps names the desa's wording when it started
    (intake records it: tests/intake/test_catalogue_versions.py); its letter is worded so
    even when the desa rewords the type meanwhile, and one that started with none keeps the
    kabupaten's."""
    issuer = signing.runtime.issuer
    desa = skd_request("x").desa_code
    for words in (DESA_WORDS, "adalah warga yang kini tinggal"):
        await catalogue.PublishDesaOverride(
            catalogue_pb2.PublishDesaOverrideRequest(
                key=_key("SKD", desa),
                body_json=json.dumps({"body": _skd_body(OLD_WORDS, words)}),
                published_by="sekdes.pamanukan",
            )
        )
    started = f"SKD-v1-desa-{desa}-1"  # started while wording 1 was the desa's
    kept = await issuer.issue(skd_request("pinned-wording", letter_type_version=started))
    assert kept.template_version == started
    assert squeeze(DESA_WORDS) in squeeze(page_texts(await issuer.read_pdf(kept))[0])
    preview = await issuer.preview(skd_request("pinned-preview", letter_type_version=started))
    assert squeeze(DESA_WORDS) in squeeze(page_texts(preview)[0])

    before = await issuer.issue(skd_request("before-wording", letter_type_version="SKD-v1"))
    assert before.template_version == "SKD-v1"
    assert squeeze(OLD_WORDS) in squeeze(page_texts(await issuer.read_pdf(before))[0])

    # Another desa's wording is not this application's.
    other = skd_request("other-desa", desa_code=RANCASARI, letter_type_version=started)
    with pytest.raises(IssueRefused):
        await issuer.preview(other)
