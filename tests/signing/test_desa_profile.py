"""The desa profile over signing's gRPC: read it, change it (every field checked, nothing
half-written, logos limited to what Typst renders safely), and the change reaches the next
letter while a letter already issued stays exactly as it was signed."""

from __future__ import annotations  # the async stub type exists only for type checkers

import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import grpc
import pytest
from smartdesa.v1 import signing_pb2, signing_pb2_grpc
from sqlmodel import select

from common.auth import InternalAuth
from common.rpc import SIGNING, WORKER, client_channel
from common.wib import WIB
from services.signing import desa_profile
from services.signing.desa_profile import DesaProfiles, ProfileInput, ProfileRejected
from services.signing.models import DesaOfficial, DesaProfile, Letter, utcnow
from services.signing.numbering import ROMAN_MONTHS
from tests.signing.conftest import PAMANUKAN, RunningSigning
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.images import png

if TYPE_CHECKING:
    from smartdesa.v1.signing_pb2_grpc import SigningServiceAsyncStub as Stub

NEW_FORMAT = "{kode}/{seq:04d}/{jenis}/Ds.Pmk/{bulan}/{tahun}"


@pytest.fixture
async def stub(signing: RunningSigning) -> AsyncIterator[Stub]:
    auth = InternalAuth.from_settings(signing.settings, WORKER)
    target = f"127.0.0.1:{signing.runtime.grpc_server.port}"
    async with client_channel(target, auth, SIGNING) as channel:
        yield cast(
            "signing_pb2_grpc.SigningServiceAsyncStub", signing_pb2_grpc.SigningServiceStub(channel)
        )


def _now_parts() -> tuple[str, str, int]:
    local = utcnow().astimezone(WIB)
    return ROMAN_MONTHS[local.month - 1], f"{local.month:02d}", local.year


async def _current(stub: Stub) -> signing_pb2.DesaProfileData:
    view: signing_pb2.DesaProfileView = await stub.GetDesaProfile(
        signing_pb2.GetDesaProfileRequest(desa_code=PAMANUKAN)
    )
    return view.profile


def _changed(data: signing_pb2.DesaProfileData, **changes: Any) -> signing_pb2.DesaProfileData:
    copy = signing_pb2.DesaProfileData()
    copy.CopyFrom(data)
    officials = changes.pop("officials", None)
    for key, value in changes.items():
        setattr(copy, key, value)
    if officials is not None:
        del copy.officials[:]
        copy.officials.extend(officials)
    return copy


def _update(
    data: signing_pb2.DesaProfileData, **extra: Any
) -> signing_pb2.UpdateDesaProfileRequest:
    return signing_pb2.UpdateDesaProfileRequest(
        desa_code=PAMANUKAN, profile=data, updated_by="kades.pamanukan", **extra
    )


def _letter(application_id: str) -> signing_pb2.IssueLetterRequest:
    return signing_pb2.IssueLetterRequest(
        application_id=application_id,
        desa_code=PAMANUKAN,
        letter_type="SKD",
        purpose="Persyaratan melamar pekerjaan",
        nik="3213115705900001",
        signer_role="kades",
        signer_username="kades.pamanukan",
        fields={"nama": "Siti Aminah", "jenis_kelamin": "P", "alamat": "Dusun Krajan"},
    )


async def test_the_seeded_profile_reads_back_with_the_next_number(stub: Stub) -> None:
    roman, _month, year = _now_parts()
    view = await stub.GetDesaProfile(signing_pb2.GetDesaProfileRequest(desa_code=PAMANUKAN))
    assert view.profile.name == "Pamanukan" and view.profile.paper == "F4"
    assert view.profile.number_format == view.default_number_format
    assert view.next_number_example == f"400.12.2/001/{PAMANUKAN}/{roman}/{year}"
    assert view.has_logo and view.logo_type == "image/svg+xml" and view.logo == b""
    assert {o.username for o in view.profile.officials} == {"kades.pamanukan", "sekdes.pamanukan"}
    with_logo = await stub.GetDesaProfile(
        signing_pb2.GetDesaProfileRequest(desa_code=PAMANUKAN, include_logo=True)
    )
    assert with_logo.logo.startswith(b"<svg") or b"<svg" in with_logo.logo[:200]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetDesaProfile(signing_pb2.GetDesaProfileRequest(desa_code="32.13.09.2002"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_change_applies_to_the_next_letter_and_an_issued_letter_never_changes(
    signing: RunningSigning, stub: Stub
) -> None:
    roman, month, year = _now_parts()
    before = await stub.IssueLetter(_letter("app-before"))
    assert before.number == f"400.12.2/001/{PAMANUKAN}/{roman}/{year}"
    old_pdf = (
        await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="app-before"))
    ).content

    logo = png(200, 180)
    data = _changed(
        await _current(stub),
        address="Jl. Pantura KM 110 No. 5",
        phone="(0260) 551234",
        email="desa.pamanukan@subang.go.id",
        number_format=NEW_FORMAT,
        officials=[
            signing_pb2.DesaOfficialEntry(
                username="kades.pamanukan", name="H. Dadang Suhendar, S.IP.", nip=""
            ),
            signing_pb2.DesaOfficialEntry(
                username="sekdes.pamanukan", name="Asep Saepudin", nip="19800101 200501 1 001"
            ),
        ],
    )
    saved = await stub.UpdateDesaProfile(_update(data, logo=logo, logo_type="image/png"))
    assert saved.saved, saved.errors
    assert saved.profile.profile.address == "Jl. Pantura KM 110 No. 5"
    assert saved.profile.profile.number_format == NEW_FORMAT
    assert saved.profile.next_number_example == f"400.12.2/0002/SKD/Ds.Pmk/{month}/{year}"
    assert saved.profile.updated_by == "kades.pamanukan" and saved.profile.updated_at.seconds
    assert saved.profile.logo_type == "image/png"
    sekdes = next(o for o in saved.profile.profile.officials if o.username == "sekdes.pamanukan")
    assert sekdes.nip == "198001012005011001"
    read = await stub.GetDesaProfile(
        signing_pb2.GetDesaProfileRequest(desa_code=PAMANUKAN, include_logo=True)
    )
    assert read.logo == logo and read.logo_version == saved.profile.logo_version

    # The letter issued before is the same file, number and register entry.
    again = await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="app-before"))
    assert again.content == old_pdf and again.number == before.number
    assert hashlib.sha256(again.content).hexdigest() == before.sha256
    old_text = squeeze(page_texts(old_pdf)[0])
    assert squeeze("Jl. Raya Pamanukan No. 12") in old_text and "Pantura" not in old_text

    # The next letter follows the new profile: number, kop surat, printed name and NIP.
    after = await stub.IssueLetter(_letter("app-after"))
    assert after.number == f"400.12.2/0002/SKD/Ds.Pmk/{month}/{year}"
    new_pdf = (
        await stub.GetLetterPdf(signing_pb2.GetLetterPdfRequest(application_id="app-after"))
    ).content
    text = squeeze(page_texts(new_pdf)[0])
    assert squeeze("Jl. Pantura KM 110 No. 5") in text
    assert squeeze("Telp. (0260) 551234 · Email: desa.pamanukan@subang.go.id") in text
    assert squeeze("H. Dadang Suhendar, S.IP.") in text
    async with signing.runtime.sessions() as session:
        numbers = {x.application_id: x.number for x in (await session.exec(select(Letter))).all()}
    assert numbers == {"app-before": before.number, "app-after": after.number}

    # A Sekdes signing a.n. prints their NIP under the name.
    sekdes_letter = _letter("app-sekdes")
    sekdes_letter.signer_role = "sekdes"
    sekdes_letter.signer_username = "sekdes.pamanukan"
    sekdes_letter.on_behalf_of_role = "kades"
    preview = await stub.PreviewLetter(sekdes_letter)
    assert squeeze("NIP. 198001012005011001") in squeeze(page_texts(preview.content)[0])


async def test_bad_fields_are_named_in_indonesian_and_nothing_is_written(
    signing: RunningSigning, stub: Stub
) -> None:
    assets = signing.runtime.issuer.assets_dir
    files_before = sorted(assets.iterdir())
    current = await _current(stub)
    data = _changed(
        current,
        address="Alamat baru yang tidak boleh tersimpan",
        name="",
        kode_pos="4125",
        email="bukan email",
        phone="telp kantor",
        kades_nip="123",
        paper="Letter",
        number_format="{kode}/{nomor}/{tahun}",
        officials=[
            signing_pb2.DesaOfficialEntry(username="kades.pamanukan", name="Baru", nip="12"),
        ],
    )
    refused = await stub.UpdateDesaProfile(_update(data, logo=png(200, 200), logo_type="image/png"))
    assert not refused.saved
    errors = {e.field: e.message for e in refused.errors}
    assert errors["name"] == "Nama desa wajib diisi."
    assert "5 angka" in errors["kode_pos"]
    assert "email" in errors["email"] and "telepon" in errors["phone"]
    assert "18 angka" in errors["kades_nip"]
    assert errors["paper"] == "Ukuran kertas harus F4 atau A4."
    assert "isian tidak dikenal {nomor}" in errors["number_format"]
    assert "18 angka" in errors["officials.kades.pamanukan.nip"]
    assert set(errors) == {
        "name", "kode_pos", "email", "phone", "kades_nip", "paper", "number_format",
        "officials.kades.pamanukan.nip",
    }  # fmt: skip
    # Nothing written: the profile, the officials, and no logo file (the logo was fine).
    assert refused.profile.profile == current
    assert await _current(stub) == current
    assert sorted(assets.iterdir()) == files_before

    missing_seq = await stub.UpdateDesaProfile(
        _update(_changed(current, number_format="{kode}/{desa_code}/{tahun}"))
    )
    assert not missing_seq.saved
    assert [(e.field, e.message) for e in missing_seq.errors] == [
        ("number_format", "Format nomor surat wajib memuat {seq} agar nomor tidak berulang.")
    ]
    huge = await stub.UpdateDesaProfile(
        _update(_changed(current, number_format="{kode}/{seq:999999999d}/{tahun}"))
    )
    assert [e.field for e in huge.errors] == ["number_format"]

    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.UpdateDesaProfile(
            signing_pb2.UpdateDesaProfileRequest(desa_code=PAMANUKAN, profile=current)
        )
    assert anonymous.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("content", "declared", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml", "SVG tidak diterima"),
        (b"GIF89a" + b"\x00" * 100, "image/gif", "harus berupa gambar PNG atau JPEG"),
        (png(32, 32), "image/png", "sisi logo harus antara 64 dan 2000 piksel"),
        (png(2400, 100), "image/png", "2400×100 piksel"),
        (png(100, 100)[:60] + b"\x00" * 40, "image/png", "rusak atau tidak dapat dibaca"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "image/jpeg", "rusak atau tidak dapat dibaca"),
        (png(100, 100) + b"\x00" * (512 * 1024), "image/png", "paling besar 512 KB"),
    ],
)
async def test_logos_are_limited_to_what_typst_renders_safely(
    stub: Stub, content: bytes, declared: str, message: str
) -> None:
    current = await _current(stub)
    refused = await stub.UpdateDesaProfile(_update(current, logo=content, logo_type=declared))
    assert not refused.saved
    assert [e.field for e in refused.errors] == ["logo"]
    assert message in refused.errors[0].message
    view = await stub.GetDesaProfile(signing_pb2.GetDesaProfileRequest(desa_code=PAMANUKAN))
    assert view.logo_type == "image/svg+xml"  # the old logo stays


async def test_a_failure_inside_the_transaction_leaves_the_old_profile(
    signing: RunningSigning, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = DesaProfiles(signing.runtime.sessions, signing.runtime.issuer.assets_dir)
    before = await profiles.get(PAMANUKAN)

    async def half_done(session: Any, desa_code: str, officials: Any) -> None:
        await original(session, desa_code, officials)  # officials deleted and re-added ...
        raise RuntimeError("disk full")  # ... then the save fails before commit

    original = desa_profile.replace_officials
    monkeypatch.setattr(desa_profile, "replace_officials", half_done)
    p = before.profile
    with pytest.raises(RuntimeError):
        await profiles.update(
            PAMANUKAN,
            ProfileInput(
                name=p.name,
                kecamatan=p.kecamatan,
                kabupaten=p.kabupaten,
                address="Alamat setengah jadi",
                kode_pos=p.kode_pos,
                kades_name="Orang Lain",
                number_format=NEW_FORMAT,
            ),  # fmt: skip
            updated_by="kades.pamanukan",
        )
    async with signing.runtime.sessions() as session:
        profile = await session.get(DesaProfile, PAMANUKAN)
        officials = (await session.exec(select(DesaOfficial))).all()
    assert profile is not None
    assert (profile.address, profile.kades_name, profile.number_format, profile.updated_by) == (
        p.address,
        p.kades_name,
        None,
        "",
    )
    assert {(o.desa_code, o.username) for o in officials} == {
        (o.desa_code, o.username) for o in before.officials
    } | {("32.13.11.2002", "kades.rancasari")}

    with pytest.raises(ProfileRejected):
        await profiles.update(
            PAMANUKAN,
            ProfileInput(
                name="", kecamatan="", kabupaten="", address="", kode_pos="", kades_name=""
            ),
            updated_by="kades.pamanukan",
        )


async def test_the_example_number_follows_the_counter_and_the_format(stub: Stub) -> None:
    roman, month, year = _now_parts()
    await stub.IssueLetter(_letter("app-1"))
    example = await stub.ExampleNumber(
        signing_pb2.ExampleNumberRequest(desa_code=PAMANUKAN, number_format=NEW_FORMAT)
    )
    assert (example.example, example.error) == (f"400.12.2/0002/SKD/Ds.Pmk/{month}/{year}", "")
    current = await stub.ExampleNumber(signing_pb2.ExampleNumberRequest(desa_code=PAMANUKAN))
    assert current.example == f"400.12.2/002/{PAMANUKAN}/{roman}/{year}"
    bad = await stub.ExampleNumber(
        signing_pb2.ExampleNumberRequest(desa_code=PAMANUKAN, number_format="{kode}/{seq}")
    )
    assert bad.example == "" and "{tahun}" in bad.error
