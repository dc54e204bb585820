"""An application in progress keeps the catalogue version it started with (issue 16 items 4
and 7): signing renders its letter from that version (IssueLetterRequest.letter_type_version,
from intake's application) even after a newer one is published, and a new application's
letter is rendered from the newer one. Intake's side (which version an application records):
tests/intake/test_catalogue_versions.py."""

import pytest

from services.signing.catalogue.definition import LetterTypeDef, from_json
from services.signing.catalogue.store import publish
from services.signing.issuing import IssueRefused
from tests.signing.conftest import RunningSigning, skd_request
from tests.signing.pdf_text import page_texts, squeeze
from tests.signing.test_catalogue_service import NEW_WORDS, OLD_WORDS, _skd_reworded


async def _publish_v2(signing: RunningSigning) -> LetterTypeDef:
    async with signing.runtime.sessions() as session:
        published, created = await publish(session, from_json(_skd_reworded(), 0), "kab.op")
    assert created and published.version == 2
    return published


async def test_an_application_in_progress_keeps_its_version(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    # Started before the new wording was published: it recorded SKD-v1.
    in_progress = skd_request("started-on-v1", letter_type_version="SKD-v1")
    await _publish_v2(signing)
    kept = await issuer.issue(in_progress)
    assert kept.template_version == "SKD-v1"
    text = squeeze(page_texts(await issuer.read_pdf(kept))[0])
    assert squeeze(OLD_WORDS) in text and squeeze(NEW_WORDS) not in text
    # Its preview (what the approving staff see) is the same version's.
    preview = squeeze(page_texts(await issuer.preview(in_progress))[0])
    assert squeeze(OLD_WORDS) in preview

    # An application started after it recorded SKD-v2, and its letter has the new wording.
    newer = await issuer.issue(skd_request("started-on-v2", letter_type_version="SKD-v2"))
    assert newer.template_version == "SKD-v2"
    assert squeeze(NEW_WORDS) in squeeze(page_texts(await issuer.read_pdf(newer))[0])
    # One that recorded nothing (stored before versions were, not yet pinned): the current.
    unpinned = await issuer.issue(skd_request("unpinned"))
    assert unpinned.template_version == "SKD-v2"


@pytest.mark.parametrize("version", ["SKD-v9", "SKU-v1", "SKD-2026.2x"])
async def test_a_version_the_catalogue_lacks_is_refused(
    signing: RunningSigning, version: str
) -> None:
    with pytest.raises(IssueRefused) as refused:
        await signing.runtime.issuer.preview(skd_request("x", letter_type_version=version))
    assert "tidak ada di katalog" in refused.value.reason
