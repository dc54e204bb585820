"""Every text this service sends, in Bahasa Indonesia, in one place.

Each template has a version recorded on the messages made from it; change the text, bump the
version. Placeholders are `{name}`; rendering with a missing value is an error, never a message
with a hole in it.
"""

import string
from dataclasses import dataclass

LETTER_TYPE_NAMES = {
    "SKD": "Surat Keterangan Domisili",
    "SKU": "Surat Keterangan Usaha",
    "SKTM": "Surat Keterangan Tidak Mampu",
}

ROLE_NAMES = {
    "operator": "Operator Desa",
    "kasi_pemerintahan": "Kasi Pemerintahan",
    "kasi_kesra": "Kasi Kesejahteraan Rakyat",
    "kasi_pelayanan": "Kasi Pelayanan",
    "sekdes": "Sekretaris Desa",
    "kades": "Kepala Desa",
}


def letter_type_name(code: str) -> str:
    return LETTER_TYPE_NAMES.get(code, f"Surat {code}")


def role_name(code: str) -> str:
    return ROLE_NAMES.get(code, code.replace("_", " ").title())


class MissingPlaceholder(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    body: str
    title: str = ""

    def placeholders(self) -> set[str]:
        return {
            field
            for text in (self.title, self.body)
            for _, field, _, _ in string.Formatter().parse(text)
            if field
        }

    def render(self, **values: str) -> tuple[str, str]:
        """(title, body) with every placeholder filled."""
        missing = self.placeholders() - {k for k, v in values.items() if v != ""}
        if missing:
            raise MissingPlaceholder(f"template {self.name} misses {sorted(missing)}")
        return self.title.format(**values), self.body.format(**values)


OTP_WHATSAPP = Template(
    name="otp.whatsapp",
    version="1",
    body=(
        "Kode masuk Smart Desa Anda: {code}. Berlaku {minutes} menit. "
        "Jangan berikan kode ini kepada siapa pun."
    ),
)

STEP_ASSIGNED_INAPP = Template(
    name="step_assigned.inapp",
    version="1",
    title="Surat menunggu pemeriksaan Anda",
    body="Permohonan {letter_type} menunggu pemeriksaan Anda sebagai {role}.",
)

LETTER_ISSUED_INAPP = Template(
    name="letter_issued.inapp",
    version="1",
    title="Surat Anda sudah terbit",
    body=(
        "{letter_type} Anda sudah terbit dengan nomor {letter_number}. "
        "Silakan unduh dan cetak surat dari aplikasi Smart Desa."
    ),
)

LETTER_ISSUED_WHATSAPP = Template(
    name="letter_issued.whatsapp",
    version="1",
    body=("Smart Desa: {letter_type} Anda sudah terbit dan siap diunduh di aplikasi Smart Desa."),
)

REVISION_REQUESTED_INAPP = Template(
    name="revision_requested.inapp",
    version="1",
    title="Permohonan Anda perlu diperbaiki",
    body=(
        "Permohonan {letter_type} Anda perlu diperbaiki. Buka permohonan di aplikasi untuk "
        "melihat alasannya, lalu kirim ulang."
    ),
)

REVISION_REQUESTED_WHATSAPP = Template(
    name="revision_requested.whatsapp",
    version="1",
    body=(
        "Smart Desa: permohonan {letter_type} Anda perlu diperbaiki. Buka permohonan di "
        "aplikasi Smart Desa untuk melihat alasannya."
    ),
)

REJECTED_INAPP = Template(
    name="rejected.inapp",
    version="1",
    title="Permohonan Anda ditolak",
    body=(
        "Permohonan {letter_type} Anda ditolak. Buka permohonan di aplikasi untuk melihat "
        "alasannya."
    ),
)

REJECTED_WHATSAPP = Template(
    name="rejected.whatsapp",
    version="1",
    body=(
        "Smart Desa: permohonan {letter_type} Anda ditolak. Buka permohonan di aplikasi Smart "
        "Desa untuk melihat alasannya."
    ),
)
