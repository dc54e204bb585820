"""The published standar pelayanan (issue 19 item 1): composed on every request from the
catalogue (signing's CatalogueService), the desa's route (verification's GetRoute) and the
desa profile (its maklumat), over real gRPC to the real servicers; so a changed route deadline,
a new syarat or a new maklumat shows at once. The poster is the same text as an A4 PDF."""

import json
import re
from collections.abc import AsyncIterator
from io import BytesIO

import httpx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from smartdesa.v1 import catalogue_pb2, directory_pb2, signing_pb2

from services.intake.config import Settings
from services.intake.main import create_app
from services.intake.service_standard import compose
from services.signing.catalogue import store
from services.signing.catalogue.definition import load_seed, parse
from services.signing.desa_profile import DesaProfiles, ProfileInput
from services.signing.models import DesaProfile
from services.verification.models import DesaService, RouteOverride
from services.verification.routes import StepSpec, route_to_json
from tests.intake.conftest import PAMANUKAN, Intake
from tests.intake.public_peers import Peers, peer_settings, peers  # noqa: F401 - fixture
from tests.signing.pdf_text import page_texts, squeeze

SKD = f"/standar-pelayanan/{PAMANUKAN}/SKD"
NEVER_SWITCHED_ON = "32.13.01.2003"  # in the kabupaten, not a pilot desa, no switch row
SWITCHED_OFF = "32.13.11.2002"  # a pilot desa
A4_POINTS = (595.2756, 841.8898)


@pytest.fixture
async def portal(base_settings: Settings, peers: Peers) -> AsyncIterator[Intake]:  # noqa: F811
    app = create_app(peer_settings(base_settings, peers))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Intake(app=app, runtime=app.state.runtime, http=http)


def _text(html: str) -> str:
    """The page's words, tags and line breaks squeezed out."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_the_standard_follows_the_catalogue_the_route_and_the_profile(
    portal: Intake,
    peers: Peers,  # noqa: F811
) -> None:
    skd = load_seed()["SKD"]
    page = await portal.http.get(SKD)  # nobody signed in
    assert page.status_code == 200, page.text
    words = _text(page.text)
    for syarat in skd.syarat:
        assert syarat.name in words
    # The default route: Kasi Pemerintahan, Sekdes, Kades, 8 working hours each.
    assert "24 jam kerja." in words
    assert (
        "Kasi Pemerintahan memeriksa permohonan dan persyaratannya (paling lama 8 jam kerja)."
        in words
    )
    assert "Senin–Jumat 08.00–16.00 WIB" in words
    assert "Rp0 (tidak dipungut biaya)." in words
    assert "berkode klasifikasi 400.12.2" in words
    assert 'href="/pengaduan"' in page.text
    assert "siap menerima sanksi" in words and "Dadang Suhendar" in words  # default maklumat

    # The desa changes its route: the page follows, step by step and in total.
    async with peers.verification() as session:
        session.add(
            RouteOverride(
                desa_code=PAMANUKAN,
                letter_type="SKD",
                steps_json=route_to_json(
                    (StepSpec("kasi_pemerintahan", 16), StepSpec("kades", 4, skippable=False))
                ),
                signer_role="kades",
                updated_by="sekdes.pamanukan",
            )
        )
        await session.commit()
    words = _text((await portal.http.get(SKD)).text)
    assert "20 jam kerja." in words and "24 jam kerja." not in words
    assert "(paling lama 16 jam kerja)" in words and "(paling lama 4 jam kerja)" in words
    assert "Sekretaris Desa" not in words.split("Jangka waktu")[0].split("prosedur")[1]

    # The kabupaten publishes a new SKD version with one more syarat: the page follows.
    data = json.loads(skd.to_json())
    data["syarat"].append(
        {"code": "SURAT_RT", "name": "Surat keterangan RT terbaru", "kind": "bawa_asli"}
    )
    async with peers.signing() as session:
        await store.publish(session, parse(data), "diskominfo")
    words = _text((await portal.http.get(SKD)).text)
    assert "Surat keterangan RT terbaru (bawa berkas aslinya ke kantor desa)" in words

    # The desa writes its own maklumat (a template): the page shows it filled in.
    profiles = DesaProfiles(peers.signing, portal.runtime.settings.data_dir)
    async with peers.signing() as session:
        current = await session.get(DesaProfile, PAMANUKAN)
        assert current is not None
    await profiles.update(
        PAMANUKAN,
        ProfileInput(
            name=current.name,
            kecamatan=current.kecamatan,
            kabupaten=current.kabupaten,
            address=current.address,
            kode_pos=current.kode_pos,
            kades_name=current.kades_name,
            maklumat_pelayanan="Kami, Desa {desa}, melayani tanpa pungutan.\n\n{kades}",
        ),
        updated_by="sekdes.pamanukan",
    )
    words = _text((await portal.http.get(SKD)).text)
    assert "Kami, Desa Pamanukan, melayani tanpa pungutan." in words
    assert "siap menerima sanksi" not in words


async def test_the_poster_is_an_a4_pdf_with_the_requirements(portal: Intake) -> None:
    r = await portal.http.get(SKD + "/poster.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfFileReader(BytesIO(r.content))
    pages = reader.root["/Pages"]
    assert pages["/Count"] == 1
    box = [float(x) for x in pages["/Kids"][0]["/MediaBox"]]
    assert (round(box[2], 1), round(box[3], 1)) == tuple(round(x, 1) for x in A4_POINTS)
    text = squeeze(page_texts(r.content)[0])
    assert squeeze("STANDAR PELAYANAN") in text
    for syarat in load_seed()["SKD"].syarat:
        assert squeeze(syarat.name) in text
    assert squeeze("24 jam kerja") in text
    assert squeeze("MAKLUMAT PELAYANAN") in text and squeeze("Dadang Suhendar") in text
    assert squeeze(f"http://test/standar-pelayanan/{PAMANUKAN}/SKD") in text


async def test_the_desa_index_lists_what_it_offers_and_unknowns_are_not_found(
    portal: Intake,
) -> None:
    index = await portal.http.get(f"/standar-pelayanan/{PAMANUKAN}")
    assert index.status_code == 200
    assert f'href="{SKD}"' in index.text and "Maklumat pelayanan" in index.text
    listing = await portal.http.get("/standar-pelayanan")
    assert listing.status_code == 200
    # Only the desa switched on (onboarding): a pilot desa, not one never switched on.
    assert f'href="/standar-pelayanan/{PAMANUKAN}"' in listing.text
    assert f'href="/standar-pelayanan/{NEVER_SWITCHED_ON}"' not in listing.text
    for path in (
        "/standar-pelayanan/99.99.99.9999",
        f"/standar-pelayanan/{PAMANUKAN}/TIDAKADA",
        f"/standar-pelayanan/{PAMANUKAN}/skd",
    ):
        r = await portal.http.get(path)
        assert r.status_code == 404, path
        assert "tidak" in r.text.lower()


async def test_a_desa_not_switched_on_publishes_no_standard(
    portal: Intake,
    peers: Peers,  # noqa: F811
) -> None:
    # Like the index, which leaves them out, their own pages say they do not serve online yet:
    # a desa never switched on, and a pilot desa the kabupaten operator switched off.
    async with peers.verification() as session:
        session.add(DesaService(desa_code=SWITCHED_OFF, serving=False, changed_by="op"))
        await session.commit()
    listing = await portal.http.get("/standar-pelayanan")
    assert f'href="/standar-pelayanan/{SWITCHED_OFF}"' not in listing.text
    for desa in (NEVER_SWITCHED_ON, SWITCHED_OFF):
        for path in (
            f"/standar-pelayanan/{desa}",
            f"/standar-pelayanan/{desa}/SKD",
            f"/standar-pelayanan/{desa}/SKD/poster.pdf",
        ):
            r = await portal.http.get(path)
            assert r.status_code == 404, path
            assert "belum melayani permohonan surat secara daring" in _text(r.text), path
            assert "Maklumat pelayanan" not in r.text


def test_the_working_hours_and_procedure_in_words() -> None:
    route = directory_pb2.Route(
        steps=[
            directory_pb2.RouteStep(role="operator", deadline_working_hours=4, skippable=True),
            directory_pb2.RouteStep(role="kasi_kesra", deadline_working_hours=8),
            directory_pb2.RouteStep(role="sekdes", deadline_working_hours=6),
        ],
        signer_role="kades",
        calendar=directory_pb2.WorkingCalendar(
            days=[
                directory_pb2.WorkingDay(weekday=d, start_minute=480, end_minute=960)
                for d in (1, 2, 3, 4)
            ]
            + [directory_pb2.WorkingDay(weekday=5, start_minute=450, end_minute=660)]
        ),
    )
    definition = catalogue_pb2.LetterTypeDefinition(
        code="SKTM",
        name="Surat Keterangan Tidak Mampu",
        online=False,
        kode_klasifikasi="belum ditetapkan",
    )
    profile = signing_pb2.DesaProfileView(
        desa_code=PAMANUKAN, profile=signing_pb2.DesaProfileData(name="Pamanukan")
    )
    s = compose(definition, route, profile, complaint_hours=24)
    assert s.working_hours == 18
    assert s.working_days_text == "Senin–Kamis 08.00–16.00 WIB, Jumat 07.30–11.00 WIB"
    assert s.procedure[0].startswith("Pemohon mengajukan permohonan di kantor desa")
    assert s.procedure[1] == (
        "Operator Desa memeriksa permohonan dan persyaratannya (paling lama 4 jam kerja). "
        "Langkah ini dapat dilewati bila desa menetapkannya."
    )
    # The last step approves; the Kades signs (a.n. routes name the signer).
    assert s.procedure[3].startswith(
        "Sekretaris Desa menyetujui permohonan; surat diberi nomor dan ditandatangani secara "
        "elektronik oleh Kepala Desa"
    )
    assert (
        "berkode klasifikasi" not in s.product
        and "dijawab paling lama 24 jam kerja" in s.complaints
    )


def test_kecamatan_steps_for_some_purposes_say_so() -> None:
    """Issue 18: the kecamatan steps follow the desa's; when the kabupaten sends the type
    through the kecamatan for some purposes only, the standard says which, and its time is the
    desa's with the kecamatan's hours added for those purposes."""
    steps = [
        directory_pb2.RouteStep(role="kasi_kesra", deadline_working_hours=8),
        directory_pb2.RouteStep(role="kades", deadline_working_hours=8),
        directory_pb2.RouteStep(role="kasi_pelayanan_kecamatan", deadline_working_hours=8),
        directory_pb2.RouteStep(role="camat", deadline_working_hours=6),
    ]
    definition = catalogue_pb2.LetterTypeDefinition(code="SKTM", name="SKTM", online=True)
    profile = signing_pb2.DesaProfileView(
        desa_code=PAMANUKAN, profile=signing_pb2.DesaProfileData(name="Pamanukan")
    )
    every = compose(definition, directory_pb2.Route(steps=steps), profile, complaint_hours=24)
    assert every.working_hours == 30
    # The Kades' step signs; the camat's adds "mengetahui" and the register number.
    assert every.procedure[2].startswith("Kepala Desa menyetujui permohonan; surat diberi nomor")
    assert every.procedure[4].startswith('Camat menandatangani "mengetahui" secara elektronik')
    assert not any("hanya untuk keperluan" in line for line in every.procedure)

    route = directory_pb2.Route(steps=steps, kecamatan_purposes=["beasiswa", "biaya berobat"])
    some = compose(definition, route, profile, complaint_hours=24)
    only = "Langkah kecamatan ini hanya untuk keperluan: beasiswa, biaya berobat."
    assert some.procedure[3].endswith(only) and some.procedure[4].endswith(only)
    assert not some.procedure[2].endswith(only)
    assert some.working_hours == 16
    assert some.time.endswith(
        "Langkah kecamatan (hanya untuk keperluan: beasiswa, biaya berobat) menambah paling "
        "lama 14 jam kerja."
    )
