"""The letter catalogue's editor in the staff client, in-process over a real signing service (its
own gRPC server, database and renderer): the kabupaten operator creates and edits types without
script (the form posted as a browser sends it), previews a draft and publishes versions; a desa
administrator rewords a type's body for their desa only, and the next letter shows it; hostile
text typed into any input is printed, never run; every other role is refused in Indonesian."""

import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
import typst

from services.signing.catalogue import store
from services.signing.catalogue.definition import LetterTypeDef, from_json
from services.signing.rendering import build_document, render_letter
from services.signing.runtime import Runtime as SigningRuntime
from tests.signing.conftest import skd_request
from tests.signing.pdf_text import page_texts, squeeze
from tests.signing.test_catalogue import HOSTILE, _content
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, RANCASARI
from tests.verification.test_admin_pages import _csrf, _signed_in
from tests.verification.test_desa_profile_api import settings as settings  # noqa: F401
from tests.verification.test_desa_profile_api import signing as signing  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n"
STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
OLD_WORDS = "adalah benar warga yang berdomisili"
DESA_WORDS = "adalah benar warga Desa Pamanukan yang bertempat tinggal"
# Hostile text for the page as well as for Typst.
HOSTILE_ALL = (*HOSTILE, "<script>alert(1)</script>", "{{ 7*7 }}")


class _Form(HTMLParser):
    """The values a browser without script sends for the page's editor form (the one with
    data-editor-katalog): text inputs, checked boxes, textareas and the selected options."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[tuple[str, str]] = []
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None
        self._selected: str | None = None
        self._first: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "data-editor-katalog" in a:
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.values.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []
        elif tag == "select":
            self._select, self._selected, self._first = a["name"], None, None
        elif tag == "option" and self._select is not None:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self._selected = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.values.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            self.values.append((self._select, self._selected or self._first or ""))
            self._select = None


def form_of(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    return dict(parser.values)


async def _post(
    client: httpx.AsyncClient, path: str, changes: dict[str, str], aksi: str = "simpan"
) -> httpx.Response:
    """Posts the editor form as the page shows it, with `changes`."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    values = form_of(page.text) | changes | {"aksi": aksi}
    return await client.post(path, data=values)


@pytest.fixture
async def kabupaten(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with _signed_in(service, "diskominfo.subang") as client:
        yield client


async def test_the_operator_creates_previews_and_publishes_a_type(
    kabupaten: httpx.AsyncClient, signing: SigningRuntime
) -> None:
    listed = await kabupaten.get("/kabupaten/katalog")
    assert listed.status_code == 200 and "Surat Keterangan Domisili" in listed.text
    bad = await kabupaten.post("/kabupaten/katalog", data={"kode": "1 bad", **_token(listed)})
    assert bad.headers["location"] == "/kabupaten/katalog?galat=1"
    made = await kabupaten.post("/kabupaten/katalog", data={"kode": "skbaru", **_token(listed)})
    assert made.status_code == 303 and made.headers["location"] == "/kabupaten/katalog/SKBARU"
    path = "/kabupaten/katalog/SKBARU"

    page = await kabupaten.get(path)
    assert page.status_code == 200
    # The placeholders are offered from a list: the type's fields and the fixed ones.
    for offered in ('value="nama"', 'value="desa.nama"', 'value="penduduk.nik"'):
        assert offered in page.text
    assert "name dan subject wajib diisi" in page.text  # the skeleton's problem is shown
    refused = await kabupaten.get(f"{path}/pratinjau.png")
    assert refused.status_code == 422 and "wajib" in refused.text

    changes = {
        "nama": "Surat Keterangan Baru",
        "deskripsi": "Menerangkan hal baru.",
        "kode_klasifikasi": "400.12.2",
        "dasar_kode": "Permendagri 83/2022: 400.12.2",
        "perihal": "Keterangan baru",
        "daring": "1",
        "isian-1-nama": "nama_usaha",
        "isian-1-label": "Nama usaha",
        "isian-1-sumber": "resident",
        "isian-1-wajib": "1",
        "syarat-0-kode": "KTP",
        "syarat-0-nama": "KTP pemohon",
        "syarat-0-jenis": "bawa_asli",
        "langkah-0-peran": "kasi_pemerintahan",
        "langkah-0-jam": "16",
        "blok-0-teks": "SURAT KETERANGAN BARU",
    }
    saved = await _post(kabupaten, path, changes)
    assert saved.status_code == 200 and "Draf tersimpan." in saved.text
    assert "Belum dapat diterbitkan" not in saved.text
    # No script: "Sisipkan" puts the chosen placeholder at the end of the chosen block.
    inserted = await _post(
        kabupaten, path, {"sisip_isian": "nama_usaha", "sisip_ke": "blok-1"}, aksi="sisipkan"
    )
    assert "menerangkan bahwa: {nama_usaha}</textarea>" in inserted.text
    added = await _post(kabupaten, path, {"blok_baru": "list"}, aksi="tambah-blok")
    assert 'name="blok-3-jenis" value="list"' in added.text
    listed_items = await _post(kabupaten, path, {"blok-3-butir": "Satu\r\nDua {desa.nama}"})
    assert "Belum dapat diterbitkan" not in listed_items.text
    preview = await kabupaten.get(f"{path}/pratinjau.png")
    assert preview.status_code == 200 and preview.content.startswith(PNG)

    published = await _post(kabupaten, path, {}, aksi="terbitkan")
    assert published.status_code == 303 and published.headers["location"] == f"{path}?terbit=1"
    shown = await kabupaten.get(published.headers["location"])
    assert "Versi 1 terbit" in shown.text and "Riwayat versi" in shown.text
    assert "diskominfo.subang" in shown.text
    async with signing.sessions() as session:
        current = await store.current(session, "SKBARU")
        who, _ = await store.published_by(session, "SKBARU", 1)
    assert current is not None and who == "diskominfo.subang"
    assert [f.name for f in current.fields] == ["nama", "nama_usaha"]
    assert current.syarat[0].kind == "bawa_asli" and current.online
    assert [s.role for s in current.route.steps][0] == "kasi_pemerintahan"
    assert current.body[1].text.endswith("{nama_usaha}")
    assert current.body[3].items == ("Satu", "Dua {desa.nama}")

    # The unchanged form publishes nothing new; a change makes version 2.
    same = await _post(kabupaten, path, {}, aksi="terbitkan")
    assert same.headers["location"] == f"{path}?sama=1"
    again = await _post(kabupaten, path, {"perihal": "Keterangan yang baru"}, aksi="terbitkan")
    assert again.headers["location"] == f"{path}?terbit=2"
    history = await kabupaten.get(path)
    assert re.search(r"<td data-label=\"Versi\">2 \(berlaku\)</td>", history.text)

    await _seed_types_round_trip(kabupaten)
    await _hostile_text_in_every_input_is_printed_not_run(kabupaten, signing)


async def _seed_types_round_trip(kabupaten: httpx.AsyncClient) -> None:
    """A seed type shown in the form and posted back unchanged is the same definition."""
    for code in ("SKD", "SKL", "SKU"):
        path = f"/kabupaten/katalog/{code}"
        saved = await _post(kabupaten, path, {})
        assert "Belum dapat diterbitkan" not in saved.text, code
        same = await _post(kabupaten, path, {}, aksi="terbitkan")
        assert same.headers["location"] == f"{path}?sama=1", code


async def _hostile_text_in_every_input_is_printed_not_run(
    kabupaten: httpx.AsyncClient, signing: SigningRuntime
) -> None:
    path = "/kabupaten/katalog/SKU"
    page = await kabupaten.get(path)
    values = form_of(page.text)
    hostile = " ".join(HOSTILE_ALL)
    template = hostile.replace("{", "{{").replace("}", "}}").replace("*", "**")
    changes = {}
    for name, value in values.items():
        if name in ("csrf_token", "kode_klasifikasi") or not isinstance(value, str):
            continue
        if re.fullmatch(r"blok-\d+-(teks|butir)|blok-\d+-baris-\d+-nilai", name) and value:
            changes[name] = f"{value} {template}"  # template text: its marks doubled
        elif (
            re.fullmatch(
                r"nama|deskripsi|dasar_kode|perihal|isian-\d+-(label|petunjuk)|syarat-\d+-(nama|keterangan)"
                r"|blok-\d+-baris-\d+-label",
                name,
            )
            and value
        ):
            changes[name] = f"{value} {hostile}"
    saved = await _post(kabupaten, path, changes)
    assert saved.status_code == 200
    assert "<script>alert(1)</script>" not in saved.text  # escaped on the page
    assert "Belum dapat diterbitkan" not in saved.text
    published = await _post(kabupaten, path, {}, aksi="terbitkan")
    assert published.headers["location"] == f"{path}?terbit=2", published.text
    assert (await kabupaten.get(f"{path}/pratinjau.png")).content.startswith(PNG)

    async with signing.sessions() as session:
        sku = await store.current(session, "SKU")
    assert sku is not None and sku.name.endswith(hostile)
    assert_printed_not_run(sku, hostile)
    assert squeeze(f"SURAT KETERANGAN USAHA {hostile}") in squeeze(
        " ".join(page_texts(render_letter(_content(sku, {"nama": "Siti"}))))
    )


def assert_printed_not_run(definition: LetterTypeDef, hostile: str) -> None:
    """The letter's Typst source holds typed text only inside string literals, the page was not
    changed (no red fill), and the hostile text is printed as typed."""
    content = _content(definition, {"nama": "Siti"}, logo=None)
    doc = build_document(content)
    outside = STRING_LITERAL.sub('""', doc.source.decode())
    for dangerous in ("#set page(fill", "#eval(", "#import", "#read(", "alert(1)", "$x^2$"):
        assert dangerous not in outside
    svg = typst.compile(doc.source, format="svg", sys_inputs=doc.inputs)
    assert b'fill="#ff4136"' not in svg  # `#set page(fill: red)` did not run
    text = squeeze(" ".join(page_texts(render_letter(content))))
    assert squeeze(hostile) in text


async def test_a_desa_rewords_a_type_and_others_may_not(
    service: Service, signing: SigningRuntime
) -> None:
    before = await signing.issuer.issue(skd_request("web-ovr-1"))
    path = "/pengaturan/kata-surat/SKD"
    async with _signed_in(service, "kades.pamanukan") as kades:
        listed = await kades.get("/pengaturan/kata-surat")
        assert listed.status_code == 200 and path in listed.text
        page = await kades.get(path)
        assert "kata-kata kabupaten (versi 1)" in page.text
        values = form_of(page.text)
        assert "kop" not in json.dumps(values)  # the kop surat is not in the form at all
        block = next(k for k, v in values.items() if OLD_WORDS in v)
        changed = {block: values[block].replace(OLD_WORDS, DESA_WORDS)}
        saved = await _post(kades, path, changed)
        assert "Draf tersimpan." in saved.text
        preview = await kades.get(f"{path}/pratinjau.png")
        assert preview.status_code == 200 and preview.content.startswith(PNG)
        # A letter issued now still uses the kabupaten's wording: a draft is not used.
        assert (await signing.issuer.issue(skd_request("web-ovr-2"))).template_version == "SKD-v1"
        used = await _post(kades, path, {}, aksi="terbitkan")
        assert used.status_code == 303, used.text
        shown = await kades.get(used.headers["location"])
        assert "Surat berikutnya dari desa ini memakai kata-kata ini" in shown.text
        assert "kades.pamanukan" in shown.text

        # Hostile wording is refused only where it breaks the marks, else printed.
        hostile = " ".join(HOSTILE_ALL).replace("{", "{{").replace("}", "}}").replace("*", "**")
        with_hostile = await _post(kades, path, {block: f"{changed[block]} {hostile}"})
        assert "<script>alert(1)</script>" not in with_hostile.text
        assert "Belum dapat diterbitkan" not in with_hostile.text
        hostile_used = await _post(kades, path, {}, aksi="terbitkan")
        assert hostile_used.status_code == 303, hostile_used.text
        async with signing.sessions() as session:
            base = await store.current(session, "SKD")
            assert base is not None
            worded = await store.for_desa(session, base, PAMANUKAN)
        assert worded.override_version == 2
        assert_printed_not_run(worded, " ".join(HOSTILE_ALL))
        back_to_one = await _post(kades, path, changed, aksi="terbitkan")
        assert back_to_one.status_code == 303

    after = await signing.issuer.issue(skd_request("web-ovr-3"))
    assert after.template_version == f"SKD-v1-desa-{PAMANUKAN}-3"
    assert squeeze(DESA_WORDS) in squeeze(page_texts(await signing.issuer.read_pdf(after))[0])
    other = await signing.issuer.issue(skd_request("web-ovr-4", desa_code=RANCASARI))
    assert squeeze(OLD_WORDS) in squeeze(page_texts(await signing.issuer.read_pdf(other))[0])
    async with signing.sessions() as session:
        old = await store.definition_for_letter(session, before.template_version)
    assert old is not None and old.override_desa == ""

    async with _signed_in(service, "kades.pamanukan") as kades:
        back = await _post(kades, path, {}, aksi="kembalikan")
        assert back.status_code == 303
    assert (await signing.issuer.issue(skd_request("web-ovr-5"))).template_version == "SKD-v1"

    # One fixture for both (it is the slow part): every other role is refused.
    await _only_their_role_may_open_each_editor(service)


def _token(page: httpx.Response) -> dict[str, str]:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return {"csrf_token": match.group(1)}


async def _only_their_role_may_open_each_editor(service: Service) -> None:
    cases = {
        "pemerintahan.pamanukan": [
            ("/kabupaten/katalog", "Hanya operator kabupaten"),
            ("/pengaturan/kata-surat/SKD", "Hanya Sekretaris Desa"),
            ("/pengaturan/kata-surat/SKD/pratinjau.png", "Hanya Sekretaris Desa"),
        ],
        "kades.pamanukan": [("/kabupaten/katalog/SKD", "Hanya operator kabupaten")],
        "dpmd.subang": [
            ("/kabupaten/katalog", "Hanya operator kabupaten"),
            ("/kabupaten/katalog/SKD/pratinjau.png", "Hanya operator kabupaten"),
        ],
        "diskominfo.subang": [("/pengaturan/kata-surat/SKD", "hanya untuk staf desa")],
    }
    for username, paths in cases.items():
        async with _signed_in(service, username) as client:
            token = {"csrf_token": await _csrf(client, "/akun/sandi")}
            for path, message in paths:
                refused = await client.get(path)
                assert refused.status_code == 403, (username, path)
                assert message in refused.text, (username, path)
                target = path.removesuffix("/pratinjau.png")
                posted = await client.post(target, data={"aksi": "terbitkan", **token})
                assert posted.status_code == 403, (username, path)
                assert message in posted.text, (username, path)
    async with _signed_in(service, "diskominfo.subang") as kabupaten:
        # A post without the session's CSRF token changes nothing.
        no_token = await kabupaten.post("/kabupaten/katalog", data={"kode": "SKCSRF"})
        assert no_token.status_code == 403
        missing = await kabupaten.get("/kabupaten/katalog/SKCSRF")
        assert missing.status_code == 404 and "tidak ada dalam katalog" in missing.text
    async with _signed_in(service, "kades.rancasari") as other:
        # Another desa's administrator sees the kabupaten's wording, not Pamanukan's draft.
        page = await other.get("/pengaturan/kata-surat/SKD")
        assert page.status_code == 200 and "kata-kata kabupaten" in page.text


async def test_the_wording_list_marks_the_desa_own_and_those_that_no_longer_fit(
    service: Service, signing: SigningRuntime
) -> None:
    """Issue 16: /pengaturan/kata-surat shows which types have the desa's own wording, and which
    of those fell back to the kabupaten's because the kabupaten's current version no longer
    fits them (here SKD's version 2 drops the `pekerjaan` field the wording names)."""
    async with signing.sessions() as session:
        skd, sku = await store.current(session, "SKD"), await store.current(session, "SKU")
        assert skd is not None and sku is not None
        for desa, base in ((PAMANUKAN, skd), (PAMANUKAN, sku), (RANCASARI, skd)):
            await store.publish_override(session, desa, base, base.body, "kades")
        data = json.loads(skd.to_json())
        data["fields"] = [f for f in data["fields"] if f["name"] != "pekerjaan"]
        for block in data["body"]:
            if "rows" in block:
                block["rows"] = [r for r in block["rows"] if "{pekerjaan}" not in r["value"]]
        newer, created = await store.publish(session, from_json(json.dumps(data), 2), "kab")
        assert created and newer.version == 2
        assert [(r.code, fits) for r, fits in await store.desa_wordings(session, PAMANUKAN)] == [
            ("SKD", False),
            ("SKU", True),
        ]
    async with _signed_in(service, "kades.pamanukan") as kades:
        listed = await kades.get("/pengaturan/kata-surat")
    assert listed.status_code == 200, listed.text

    def item(code: str) -> str:
        found = re.search(rf'<li id="jenis-{code}">(.*?)</li>', listed.text, re.S)
        assert found is not None, code
        return found.group(1)

    assert "Tidak cocok lagi: memakai kata-kata kabupaten" in item("SKD")
    assert "ditulis untuk versi 1, kabupaten kini versi 2" in item("SKD")
    assert "Kata-kata desa" in item("SKU") and "Tidak cocok" not in item("SKU")
    assert "lencana" not in item("SKKK")  # the kabupaten's wording, nothing to mark
    assert "2 jenis surat memakai kata-kata desa sendiri; 1 di antaranya tidak cocok" in (
        listed.text
    )
