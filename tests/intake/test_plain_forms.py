"""The portal's forms in plain words (issue 15, item 3), in-process against the real register:
dates entered with the phone's date picker or typed as "15 Agustus 1990" and always shown in
words; coded choices written out; hints beside the field and never beside a value; the desa
picker starting from the resident's own kecamatan (the register's desa once it holds them,
else the NIK's); one example of a date in every message."""

import io
import re
from datetime import date

from PIL import Image

from services.intake.models import LetterApplication
from services.verification.population.register import ResidentData, add_resident
from tests.intake import samples
from tests.intake.conftest import (
    NIK_ANI,
    NIK_BUDI,
    PHONE_ANI,
    PHONE_BUDI,
    SKD_FIELDS,
    Intake,
    Register,
)
from tests.intake.test_resident_wording import page_text

CIASEM_TENGAH = "32.13.09.2002"  # another kecamatan than the NIKs' (32.13.11, Pamanukan)


def _optgroups(html: str) -> list[str]:
    return re.findall(r'<optgroup label="([^"]+)">', html)


def _selected(html: str, name: str) -> list[str]:
    select = html[html.index(f'name="{name}"') :]
    select = select[: select.index("</select>")]
    return re.findall(r'<option value="([^"]*)" selected>', select)


async def test_the_form_offers_a_date_picker_written_out_choices_and_hints_beside(
    intake: Intake,
) -> None:
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    r = await intake.http.get("/permohonan/baru/SKD", headers=headers)
    assert r.status_code == 200
    body = r.text
    # The phone's own date picker, told the page is Indonesian; the words beside it.
    picker = re.search(r'<input id="f-isian_tanggal_lahir"[^>]*>', body)
    assert picker is not None
    assert 'type="date"' in picker[0] and 'lang="id"' in picker[0]
    assert (
        'aria-describedby="f-isian_tanggal_lahir-petunjuk f-isian_tanggal_lahir-kata"'
        in (picker[0])
    )
    assert '<script src="/static/umum/tanggal.js" defer>' in body
    assert '<option value="L">Laki-laki</option>' in body
    assert '<option value="P">Perempuan</option>' in body
    text = page_text(body)
    for code in ("TTTT", "YYYY", "(L/P)", "JJ:MM"):
        assert code not in text
    assert "Contoh: 15 Agustus 1990." in text
    assert "Bila ada, misalnya nama bank atau sekolah." in text  # beside its field


async def test_the_desa_picker_starts_from_the_kecamatan_of_the_nik(intake: Intake) -> None:
    """Budi is not in any register: the NIK's kecamatan (32.13.11) comes first, nothing is
    chosen for him."""
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    body = (await intake.http.get("/permohonan/baru/SKD", headers=headers)).text
    groups = _optgroups(body)
    assert groups[0] == "Kecamatan Pamanukan (kecamatan Anda)"
    assert sorted(groups[1:]) == groups[1:] and len(groups) > 2
    first = body[body.index(groups[0]) : body.index("</optgroup>")]
    assert '<option value="32.13.11.2004">Pamanukan</option>' in first
    assert '<option value="32.13.11.2002">Rancasari</option>' in first
    assert _selected(body, "desa_code") == [""]  # "Pilih desa"
    assert "Desa di kecamatan Anda (menurut NIK) ada di urutan teratas." in page_text(body)


async def test_the_register_s_desa_is_chosen_once_it_holds_the_resident(
    intake: Intake, register: Register
) -> None:
    """Ani's NIK was issued in Pamanukan, but her desa's register (Ciasem Tengah) holds her:
    her desa is chosen and its kecamatan leads."""
    async with register.sessions() as session:
        await add_resident(
            session,
            CIASEM_TENGAH,
            ResidentData(
                nik=NIK_ANI,
                name="ANI SURYANI",
                sex=2,
                birth_date=date(1990, 8, 17),
                address="KP. TENGAH",
                dusun="TENGAH",
                rw="001",
                rt="001",
                phones=PHONE_ANI,  # her codes go to it (sign-in by the register)
            ),
            actor="operator.ciasemtengah",
        )
    headers = await intake.sign_in()
    body = (await intake.http.get("/permohonan/baru/SKD", headers=headers)).text
    assert _optgroups(body)[0] == "Kecamatan Ciasem (kecamatan Anda)"
    assert _selected(body, "desa_code") == [CIASEM_TENGAH]
    assert "Desa Anda menurut data penduduk desa: Ciasem Tengah, Kecamatan Ciasem." in page_text(
        body
    )


async def test_a_date_typed_in_words_is_kept_and_shown_in_words(intake: Intake) -> None:
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    form = {
        "desa_code": "32.13.11.2004",
        "purpose": "Persyaratan kerja",
        **{f"isian_{k}": v for k, v in SKD_FIELDS.items()},
        "isian_tanggal_lahir": "17 Agt 1990",
        "isian_jenis_kelamin": "P",
    }
    r = await intake.http.post("/permohonan/baru/SKD", data=form, headers=headers)
    assert r.status_code == 303, r.text
    application_id = r.headers["location"].rsplit("/", 1)[1]
    api = await intake.http.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert api.json()["fields"]["tanggal_lahir"] == "1990-08-17"  # as the picker sends it

    # The draft's form: the picker holds the day, the words stand beside it.
    page = (await intake.http.get(f"/permohonan/{application_id}", headers=headers)).text
    assert re.search(r'name="fields.tanggal_lahir" type="date" lang="id" value="1990-08-17"', page)
    assert '<p class="tanggal-kata" id="f-fields.tanggal_lahir-kata" aria-live="polite">' in page
    assert "17 Agustus 1990" in page_text(page)

    # Once it is being checked, the page shows the values, each in words beside its label.
    async with intake.runtime.sessions() as session:
        application = await session.get(LetterApplication, application_id)
        assert application is not None
        application.status = "in_review"
        session.add(application)
        await session.commit()
    text = page_text((await intake.http.get(f"/permohonan/{application_id}", headers=headers)).text)
    assert "Tanggal lahir 17 Agustus 1990" in text
    assert "Jenis kelamin Perempuan" in text
    assert "1990-08-17" not in text and "TTTT" not in text


async def test_a_wrong_date_is_told_with_the_example_the_page_gives(intake: Intake) -> None:
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    form = {
        "desa_code": "32.13.11.2004",
        "purpose": "Persyaratan kerja",
        "isian_nama": "Budi",
        "isian_alamat": "Dusun Krajan",
        "isian_tanggal_lahir": "31 Juni 1990",
    }
    r = await intake.http.post("/permohonan/baru/SKD", data=form, headers=headers)
    assert r.status_code == 422
    message = "Tanggal lahir harus tanggal yang valid dan sudah lewat, misalnya 15 Agustus 1990."
    assert message in page_text(r.text)
    assert "YYYY" not in r.text and "TTTT" not in r.text
    # What was typed stays in view (a text box: a date picker would drop it).
    assert re.search(
        r'name="isian_tanggal_lahir" type="text" lang="id" value="31 Juni 1990"', r.text
    )

    # The API says the same words.
    api = await intake.http.post(
        "/api/v1/applications",
        json={
            "desa_code": "32.13.11.2004",
            "letter_type": "SKD",
            "purpose": "x",
            "fields": {"nama": "Budi", "alamat": "x", "tanggal_lahir": "31 Juni 1990"},
        },
        headers=headers,
    )
    assert api.status_code == 422
    assert message in api.text


async def test_the_upload_control_shows_a_small_picture_of_the_photo_sent(intake: Intake) -> None:
    """One control per syarat, and beside it what was sent: a small JPEG of the photo, from
    the resident's own application only."""
    headers = await intake.sign_in(NIK_BUDI, PHONE_BUDI)
    application_id = await intake.create_application(headers)
    photo = io.BytesIO()
    Image.new("RGB", (1600, 1000), (200, 30, 30)).save(photo, "JPEG", quality=95)
    r = await intake.upload(headers, application_id, "KTP", photo.getvalue(), "ktp.jpg")
    assert r.status_code == 201, r.text
    assert (
        await intake.upload(headers, application_id, "KK", samples.pdf(), "kk.pdf")
    ).status_code == 201

    page = (await intake.http.get(f"/permohonan/{application_id}", headers=headers)).text
    assert page.count('type="file"') == 2  # one control per syarat, no second camera input
    assert "capture=" not in page
    found = re.search(r'<img src="([^"]+)" alt="Foto yang terkirim: KTP pemohon"', page)
    assert found is not None
    url = found[1].replace("&amp;", "&")
    assert url.startswith(f"/permohonan/{application_id}/berkas/KTP/gambar-kecil?v=")
    assert "Foto yang terkirim: Kartu Keluarga" not in page  # a PDF has no picture

    small = await intake.http.get(url, headers=headers)
    assert small.status_code == 200
    assert small.headers["content-type"] == "image/jpeg"
    assert small.headers["cache-control"].startswith("private")
    with Image.open(io.BytesIO(small.content)) as shown:
        assert shown.size == (320, 200)
    assert len(small.content) < len(photo.getvalue()) // 4

    kk = f"/permohonan/{application_id}/berkas/KK/gambar-kecil"
    assert (await intake.http.get(kk, headers=headers)).status_code == 404
    other = await intake.sign_in(NIK_ANI)
    assert (await intake.http.get(url, headers=other)).status_code == 404
    assert (await intake.http.get(url)).status_code in (303, 401)  # not signed in
