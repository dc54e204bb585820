import asyncio
import base64
import hashlib
import uuid

import pytest
from sqlmodel import select

from services.signing.issuing import IssueRefused
from services.signing.models import DesaProfile, Letter
from tests.signing.conftest import PAMANUKAN, PUBLIC_URL, RunningSigning, skd_request


async def test_issue_is_idempotent_per_application(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    first = await issuer.issue(skd_request("app-1"))
    again = await issuer.issue(skd_request("app-1"))
    assert first.status == "valid"
    assert (again.id, again.number, again.sha256) == (first.id, first.number, first.sha256)
    assert first.number.startswith("400.12.2/001/32.13.11.2004/")
    assert first.template_version == "SKD-v1"  # the catalogue version it was rendered from
    pdf = await issuer.read_pdf(first)
    assert hashlib.sha256(pdf).hexdigest() == first.sha256
    assert (signing.settings.letters_dir / f"{first.id}.pdf").exists()
    async with signing.runtime.sessions() as session:
        assert len((await session.exec(select(Letter))).all()) == 1


async def test_a_reservation_left_by_a_crash_is_finished_with_its_number(
    signing: RunningSigning,
) -> None:
    issuer = signing.runtime.issuer
    request = skd_request("app-crashed")
    # Transaction 1 committed, then the process died before rendering and signing.
    reserved = await issuer._reserve(request, await issuer._plan(request))
    assert reserved.status == "issuing"
    assert await issuer.find_issued("app-crashed") is None
    await issuer.issue(skd_request("app-next"))  # the counter moved on meanwhile

    finished = await issuer.issue(request)
    assert (finished.id, finished.number) == (reserved.id, reserved.number)
    assert finished.status == "valid" and finished.sha256 is not None


async def test_a_pdf_written_before_the_crash_is_reused(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    first = await issuer.issue(skd_request("app-2"))
    pdf = await issuer.read_pdf(first)
    # As if the process died after writing the file but before transaction 2.
    async with signing.runtime.sessions() as session:
        row = await session.get(Letter, first.id)
        assert row is not None
        row.status, row.sha256, row.issued_at = "issuing", None, None
        session.add(row)
        await session.commit()
    resumed = await issuer.issue(skd_request("app-2"))
    assert resumed.number == first.number
    assert resumed.sha256 == hashlib.sha256(pdf).hexdigest()
    assert await issuer.read_pdf(resumed) == pdf


async def test_verification_codes_are_random_and_long(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    letters = [await issuer.issue(skd_request(f"app-{i}")) for i in range(3)]
    codes = [letter.verification_code for letter in letters]
    assert len(set(codes)) == 3
    for letter in letters:
        raw = base64.urlsafe_b64decode(letter.verification_code + "=" * 4)
        assert len(raw) * 8 >= 128
        ids = {letter.id, letter.id.replace("-", ""), letter.application_id, letter.number}
        assert not any(letter.verification_code in i or i in letter.verification_code for i in ids)
        assert uuid.UUID(letter.id).version == 4


async def test_refusals(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    with pytest.raises(IssueRefused) as unknown_type:
        await issuer.issue(skd_request("a1", letter_type="SKX"))
    assert not unknown_type.value.precondition
    with pytest.raises(IssueRefused) as no_profile:
        await issuer.issue(skd_request("a2", desa_code="32.13.09.2002"))
    assert not no_profile.value.precondition
    # A desa with a profile but no signer at all.
    async with signing.runtime.sessions() as session:
        session.add(
            DesaProfile(
                code="32.13.09.2004",
                name="Ciasem Hilir",
                kecamatan="Ciasem",
                kabupaten="Subang",
                address="Jl. Raya Ciasem",
                kode_pos="41256",
                kades_name="Contoh",
            )
        )
        await session.commit()
    with pytest.raises(IssueRefused) as no_signer:
        await issuer.issue(skd_request("a3", desa_code="32.13.09.2004"))
    assert not no_signer.value.precondition
    with pytest.raises(IssueRefused) as no_role:
        await issuer.issue(skd_request("a4", signer_role="camat"))
    assert no_role.value.precondition
    async with signing.runtime.sessions() as session:
        assert (await session.exec(select(Letter))).all() == []  # nothing numbered


async def test_letter_carries_the_public_verification_url(signing: RunningSigning) -> None:
    letter = await signing.runtime.issuer.issue(skd_request("app-url"))
    url = signing.runtime.issuer.verification_url(letter.verification_code)
    assert url == f"{PUBLIC_URL}/verifikasi/{letter.verification_code}"
    assert letter.desa_code == PAMANUKAN


async def test_concurrent_issues_of_one_application_agree(signing: RunningSigning) -> None:
    issuer = signing.runtime.issuer
    letters = await asyncio.gather(*(issuer.issue(skd_request("app-same")) for _ in range(5)))
    assert len({(x.id, x.number, x.sha256) for x in letters}) == 1
    pdf = await issuer.read_pdf(letters[0])
    assert hashlib.sha256(pdf).hexdigest() == letters[0].sha256
    # The losers' reservations rolled back: the next letter takes 002, not 006.
    assert (await issuer.issue(skd_request("app-after"))).sequence == 2
