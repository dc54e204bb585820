"""The request as the deciding staff member reads it: reading order, labels without the
resident's hints, dates and codes in words, syarat by name; with the letter catalogue's
version of the type and without it. Pure."""

import pytest
from smartdesa.v1 import catalogue_pb2

from services.signing.catalogue.servicer import definition_message
from services.verification.request_view import (
    attachment_label,
    shown_fields,
    shown_value,
    staff_label,
)
from tests.support.catalogue import SEED

pytestmark = pytest.mark.unit

FIELDS = {
    "nama_usaha": "Warung Bu Siti",
    "rw": "001",
    "instansi_tujuan": "Bank BRI",
    "tanggal_lahir": "1990-08-15",
    "rt": "002",
    "alamat": "Dusun Krajan",
    "jenis_kelamin": "P",
    "nama": "Siti Aminah",
    "zzz_lain": "x",
}


def _sku() -> catalogue_pb2.LetterTypeDefinition:
    """SKU as CatalogueService serves it (version 1, the seed's)."""
    return definition_message(SEED["SKU"], None)


def test_labels_lose_the_residents_hints() -> None:
    assert staff_label("Tanggal lahir (TTTT-BB-HH)") == "Tanggal lahir"
    assert staff_label("Jenis kelamin (L/P)") == "Jenis kelamin"
    assert staff_label("Jenis usaha, misalnya warung sembako") == "Jenis usaha"
    assert staff_label("Penghasilan rata-rata per bulan (rupiah, angka saja)") == (
        "Penghasilan rata-rata per bulan"
    )


def test_values_in_words() -> None:
    assert shown_value("tanggal_lahir", "1990-08-15", "date") == "15 Agustus 1990"
    assert shown_value("tanggal_kematian", "2026-02-01", "") == "1 Februari 2026"
    assert shown_value("tanggal_lahir", "15/08/1990", "date") == "15/08/1990"  # kept as typed
    assert shown_value("tanggal_lahir", "1990-02-31", "date") == "1990-02-31"
    assert shown_value("jenis_kelamin", "L", "choice") == "Laki-laki"
    assert shown_value("jenis_kelamin", "p", "choice") == "Perempuan"
    assert shown_value("nama", "2026-01-01", "text") == "2026-01-01"


@pytest.mark.parametrize("with_catalogue", [True, False])
def test_reading_order_name_identity_address_then_the_letters_own(with_catalogue: bool) -> None:
    sku = _sku() if with_catalogue else None
    shown = shown_fields(FIELDS, sku, lambda key: "diisi pemohon")
    keys = [f.key for f in shown]
    assert keys[:6] == ["nama", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw"]
    assert keys[-1] == "zzz_lain"
    if with_catalogue:  # the letter's own fields in its form's order
        assert keys[6:8] == ["nama_usaha", "instansi_tujuan"]
    by_key = {f.key: f for f in shown}
    assert by_key["tanggal_lahir"].label == "Tanggal lahir"
    assert by_key["tanggal_lahir"].value == "15 Agustus 1990"
    assert by_key["jenis_kelamin"].value == "Perempuan"
    assert by_key["nama"].label == "Nama lengkap"


def test_attachments_are_named_by_their_syarat() -> None:
    sku = _sku()
    assert attachment_label("PENGANTAR_RT", sku) == "Surat pengantar RT/RW"
    assert attachment_label("FOTO_USAHA", sku) == "Foto tempat usaha"
    assert attachment_label("PENGANTAR_RT", None) == "Pengantar rt"
