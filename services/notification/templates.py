"""Every text this service sends, in Bahasa Indonesia, in one place: per event and channel.

Each template has a version recorded on the messages made from it; change the text, bump the
version. Placeholders are `{name}`; rendering with a missing value is an error, never a message
with a hole in it. A WhatsApp template is sent as Meta's approved template of the same name and
version, with its placeholders as positional parameters in the order they first appear.
"""

import string
from dataclasses import dataclass, replace

from common.domain import resident_wording as say
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REJECTED,
    APPLICATION_REMINDED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_SIGNING_BLOCKED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
    LETTER_REVOKED,
)


class MissingPlaceholder(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    body: str
    title: str = ""  # in-app title, email subject

    def placeholders(self) -> set[str]:
        return {
            field
            for text in (self.title, self.body)
            for _, field, _, _ in string.Formatter().parse(text)
            if field
        }

    def param_order(self) -> tuple[str, ...]:
        """Body placeholders in order of first appearance (WhatsApp's {{1}}, {{2}} …)."""
        seen: list[str] = []
        for _, field, _, _ in string.Formatter().parse(self.body):
            if field and field not in seen:
                seen.append(field)
        return tuple(seen)

    def render(self, **values: str) -> tuple[str, str]:
        """(title, body) with every placeholder filled."""
        missing = self.placeholders() - {k for k, v in values.items() if v != ""}
        if missing:
            raise MissingPlaceholder(f"template {self.name} misses {sorted(missing)}")
        return self.title.format(**values), self.body.format(**values)

    def params(self, **values: str) -> tuple[str, ...]:
        self.render(**values)  # the same check for holes
        return tuple(values[name] for name in self.param_order())


OTP_WHATSAPP = Template(
    name="otp.whatsapp",
    version="1",
    body=(
        "Kode masuk Smart Desa Anda: {code}. Berlaku {minutes} menit. "
        "Jangan berikan kode ini kepada siapa pun."
    ),
)

OTP_SMS = Template(
    name="otp.sms",
    version="1",
    body="Smart Desa: kode masuk Anda {code}, berlaku {minutes} menit. Jangan berikan ke siapa pun.",
)

_EMAIL_OPENING = "Yth. Bapak/Ibu,\n\n"
_EMAIL_CLOSING = (
    "\n\nPesan ini dikirim otomatis oleh Smart Desa Kabupaten Subang. Mohon tidak membalas "
    "email ini."
)


@dataclass(frozen=True)
class EventTemplates:
    """What one event says on each channel. `None`: that channel stays silent for it."""

    inapp: Template
    email: Template | None = None
    whatsapp: Template | None = None
    sms: Template | None = None


def _event(
    key: str,
    title: str,
    text: str,
    *,
    short: str | None = None,
    email_extra: str = "",
    version: str = "1",
    outside: bool = True,
) -> EventTemplates:
    """The in-app text, and (when `outside`) the same news by email, WhatsApp and SMS."""
    inapp = Template(name=f"{key}.inapp", version=version, title=title, body=text)
    if not outside:
        return EventTemplates(inapp=inapp)
    return EventTemplates(
        inapp=inapp,
        email=Template(
            name=f"{key}.email",
            version=version,
            title=f"Smart Desa: {title}",
            body=_EMAIL_OPENING + text + email_extra + _EMAIL_CLOSING,
        ),
        whatsapp=Template(name=f"{key}.whatsapp", version=version, body=f"Smart Desa: {text}"),
        sms=Template(name=f"{key}.sms", version=version, body=f"Smart Desa: {short or text}"),
    )


# To the resident, each line quoted whole from common.domain.resident_wording, where the portal's
# application page reads it too: the message and the page say the same thing in the same words.
# `{number}` is the application's number (SKU-2026-000123), `{page}` its page on the portal.
SUBMITTED = _event(
    "submitted",
    "Permohonan Anda sudah diterima",
    "{letter_type}. " + say.SUBMITTED + " Ikuti perkembangannya di {page}",
    version="2",
)

# Filed for the resident by desa staff at the office: the resident hears it outside the app
# (they have no app session yet), with where to follow it. No NIK or name in it.
SUBMITTED_WALK_IN = _event(
    "submitted_walk_in",
    "Permohonan Anda sudah didaftarkan di kantor desa",
    "{letter_type} didaftarkan oleh petugas di kantor desa. "
    + say.SUBMITTED
    + " Ikuti perkembangannya di {portal} dengan masuk memakai NIK Anda dan nomor HP ini.",
    short="{letter_type} didaftarkan di kantor desa. "
    + say.SUBMITTED
    + " Pantau di {portal}, masuk dengan NIK dan nomor ini.",
    version="2",
)

# Each step the application reaches, one short line; the resident may switch these off
# (preferences' `step_updates`), and then reads them in the app only.
STEP_REACHED = _event(
    "step_reached",
    "Permohonan Anda masuk tahap berikutnya",
    "{number}: " + say.STEP_REACHED,
)

# A deadline passed and the application went up to the assignee's supervisor.
ESCALATED_RESIDENT = _event(
    "escalated_resident",
    "Permohonan Anda sedang dipercepat",
    "{number}: " + say.ESCALATED,
)

STEP_ASSIGNED = _event(
    "step_assigned",
    "Surat menunggu pemeriksaan Anda",
    "Permohonan {letter_type} menunggu pemeriksaan Anda sebagai {role}.",
    email_extra="\n\nBuka kotak tugas Anda di Smart Desa untuk memeriksanya.",
)

REMINDED = _event(
    "reminded",
    "Pengingat: surat menunggu pemeriksaan Anda",
    "Pengingat: permohonan {letter_type} masih menunggu pemeriksaan Anda sebagai {role}. "
    "Batas waktunya {deadline}.",
    short="pengingat, permohonan {letter_type} menunggu pemeriksaan Anda, batas {deadline}.",
)

ESCALATED = _event(
    "escalated",
    "Surat terlambat dialihkan kepada Anda",
    "Permohonan {letter_type} melewati batas waktu di tahap {from_role} dan dialihkan kepada "
    "Anda sebagai {role}. Silakan putuskan atau tunjuk Plt.",
    short="permohonan {letter_type} terlambat di tahap {from_role} dan dialihkan kepada Anda.",
)

DECIDED = _event(
    "decided",
    "Permohonan Anda sudah disetujui satu tahap",
    "Permohonan {letter_type} Anda: " + say.APPROVED,
    version="2",
    outside=False,
)

REVISION_REQUESTED = _event(
    "revision_requested",
    "Permohonan Anda perlu diperbaiki",
    "{number}: " + say.REVISION + " " + say.REVISION_ACTION + " Buka {page}",
    version="2",
)

RESUBMITTED = _event(
    "resubmitted",
    "Perbaikan Anda sudah diterima",
    "Permohonan {letter_type} Anda: " + say.RESUBMITTED,
    version="2",
    outside=False,
)

REJECTED = _event(
    "rejected",
    "Permohonan Anda ditolak",
    "{number}: " + say.REJECTED + " Rinciannya di {page}",
    version="2",
)

CANCELLED = _event(
    "cancelled",
    "Permohonan dibatalkan",
    "Permohonan {letter_type} Anda: " + say.CANCELLED,
    version="2",
    outside=False,
)

CANCELLED_STAFF = _event(
    "cancelled_staff",
    "Permohonan dibatalkan pemohon",
    "Permohonan {letter_type} yang menunggu Anda sebagai {role} dibatalkan oleh pemohon. "
    "Tidak perlu tindakan lagi.",
    outside=False,
)

EXPIRED = _event(
    "expired",
    "Permohonan Anda ditutup",
    "{number}: " + say.EXPIRED + " Silakan ajukan permohonan baru bila masih diperlukan.",
    version="2",
)

# Every step approved, but signing refused the letter: the signer role must fix the cause (the
# reason is in the task, never in a message), the kabupaten operator follows it up.
SIGNING_BLOCKED = _event(
    "signing_blocked",
    "Surat tertahan di tanda tangan elektronik",
    "Permohonan {letter_type} sudah disetujui, tetapi suratnya belum dapat ditandatangani "
    "secara elektronik oleh Anda sebagai {role}. Buka tugas di Smart Desa untuk melihat "
    "penyebabnya, perbaiki, lalu minta terbitkan ulang. Sistem juga mencoba lagi berkala.",
    short="surat {letter_type} yang sudah disetujui tertahan di tanda tangan elektronik. "
    "Buka tugas Anda di Smart Desa.",
)

SIGNING_BLOCKED_KABUPATEN = _event(
    "signing_blocked_kabupaten",
    "Surat tertahan di tanda tangan elektronik",
    "Permohonan {letter_type} di desa {desa_code} sudah disetujui, tetapi suratnya belum dapat "
    "ditandatangani secara elektronik oleh {signer}. Mohon bantu desa memperbaikinya.",
    short="surat {letter_type} di desa {desa_code} tertahan di tanda tangan elektronik ({signer}).",
)

LETTER_ISSUED_EVENT = _event(
    "letter_issued",
    "Surat Anda sudah terbit",
    "{number}: "
    + say.ISSUED
    + " Unduh surat di {link} (tautan berlaku sampai {link_expires}) atau dari aplikasi Smart "
    "Desa, lalu cetak.",
    short="{number}: " + say.ISSUED + " Unduh di {link} sebelum {link_expires}.",
    version="3",
)
# In the app the letter is a button away: no short-lived link in a message that stays.
LETTER_ISSUED_EVENT = replace(
    LETTER_ISSUED_EVENT,
    inapp=Template(
        name="letter_issued.inapp",
        version="2",
        title="Surat Anda sudah terbit",
        body="{number}: " + say.ISSUED + " Silakan unduh dan cetak surat dari aplikasi Smart Desa.",
    ),
)

LETTER_REVOKED_EVENT = _event(
    "letter_revoked",
    "Surat Anda dicabut",
    "{number}: " + say.REVOKED + " Keterangannya di {page}",
    version="2",
)

BY_EVENT: dict[str, EventTemplates] = {
    APPLICATION_SUBMITTED: SUBMITTED,
    APPLICATION_STEP_ASSIGNED: STEP_ASSIGNED,
    APPLICATION_REMINDED: REMINDED,
    APPLICATION_ESCALATED: ESCALATED,
    APPLICATION_DECIDED: DECIDED,
    APPLICATION_REVISION_REQUESTED: REVISION_REQUESTED,
    APPLICATION_RESUBMITTED: RESUBMITTED,
    APPLICATION_REJECTED: REJECTED,
    APPLICATION_CANCELLED: CANCELLED,
    APPLICATION_EXPIRED: EXPIRED,
    APPLICATION_SIGNING_BLOCKED: SIGNING_BLOCKED,
    LETTER_ISSUED: LETTER_ISSUED_EVENT,
    LETTER_REVOKED: LETTER_REVOKED_EVENT,
}

# What a resident can hear about their application outside the app, by the event that says it:
# each has its counterpart on the portal's application page (tests/intake/test_resident_wording.py).
TO_RESIDENT: dict[str, tuple[EventTemplates, ...]] = {
    APPLICATION_SUBMITTED: (SUBMITTED, SUBMITTED_WALK_IN),
    APPLICATION_STEP_ASSIGNED: (STEP_REACHED,),
    APPLICATION_REVISION_REQUESTED: (REVISION_REQUESTED,),
    APPLICATION_REJECTED: (REJECTED,),
    APPLICATION_ESCALATED: (ESCALATED_RESIDENT,),
    APPLICATION_EXPIRED: (EXPIRED,),
    LETTER_ISSUED: (LETTER_ISSUED_EVENT,),
    LETTER_REVOKED: (LETTER_REVOKED_EVENT,),
}

# Names kept from the first version, used by tests and the rules.
STEP_ASSIGNED_INAPP = STEP_ASSIGNED.inapp
LETTER_ISSUED_INAPP = LETTER_ISSUED_EVENT.inapp
REVISION_REQUESTED_INAPP = REVISION_REQUESTED.inapp
REJECTED_INAPP = REJECTED.inapp


# Sign-in notices (event resident.sign_in_notice, issue 13 item 6).
SIGN_IN_BOUND = _event(
    "sign_in_bound",
    "Nomor HP baru terhubung untuk masuk warga",
    "Seorang warga yang nomor HP-nya belum tercatat di data penduduk desa baru saja masuk "
    "pertama kali dengan nomor KK dan nama ibu kandung. Periksa di Data penduduk, Nomor HP "
    "masuk warga, dan batalkan bila nomor itu bukan miliknya.",
    short="Nomor HP baru terhubung untuk masuk warga. Periksa di Data penduduk, Nomor HP masuk "
    "warga.",
)
PHONE_CHANGED_WHATSAPP = Template(
    name="phone_changed.whatsapp",
    version="1",
    body=(
        "Smart Desa: nomor HP untuk masuk layanan surat desa atas NIK yang memakai nomor ini "
        "telah diganti di kantor desa. Nomor ini tidak lagi dapat dipakai untuk masuk. Bila "
        "Anda tidak memintanya, segera hubungi kantor desa."
    ),
)
PHONE_CHANGED_SMS = Template(
    name="phone_changed.sms",
    version="1",
    body=(
        "Smart Desa: nomor HP masuk layanan surat desa Anda telah diganti di kantor desa. Bila "
        "bukan Anda yang meminta, segera hubungi kantor desa."
    ),
)
# The satisfaction survey (Permenpan-RB 14/2017): once, after the letter is issued or refused.
# The link is single use and anonymous (intake keeps no link from the answer to the resident).
SURVEY_INVITATION = _event(
    "survey_invitation",
    say.SURVEY_TITLE,
    f"{{number}}: {say.SURVEY_ASK}, di {{survey_link}} (berlaku sampai {{survey_expires}}).",
    short="{number}: Mohon nilai pelayanan desa (tanpa nama) di {survey_link}",
)


# Complaints (pengaduan, UU 25/2009 and Perpres 76/2013). The staff messages name no
# complainant and quote no text: they point at the complaint inbox, where the read is recorded.
COMPLAINT_RECEIVED_STAFF = _event(
    "complaint_received",
    "Pengaduan baru untuk desa",
    "Ada pengaduan baru tentang pelayanan Desa {desa}. Mohon dijawab sebelum {deadline}; bila "
    "belum dijawab, pengaduan diteruskan ke kabupaten. Buka menu Pengaduan di Smart Desa.",
    short="pengaduan baru untuk Desa {desa}, jawab sebelum {deadline}. Buka menu Pengaduan.",
)
COMPLAINT_ESCALATED_KABUPATEN = _event(
    "complaint_escalated",
    "Pengaduan diteruskan ke kabupaten",
    "Pengaduan tentang pelayanan Desa {desa} belum dijawab sampai batas waktunya ({deadline}) "
    "dan kini diteruskan ke kabupaten. Mohon dijawab: buka menu Pengaduan di Smart Desa.",
    short="pengaduan Desa {desa} melewati batas waktu dan diteruskan ke kabupaten. Mohon "
    "dijawab di menu Pengaduan.",
)
COMPLAINT_ANSWERED_RESIDENT = _event(
    "complaint_answered",
    "Pengaduan Anda sudah dijawab",
    "Pengaduan Anda tentang pelayanan Desa {desa} sudah dijawab {by}. Baca jawabannya di {page}",
)


def all_templates() -> list[Template]:
    found = [OTP_WHATSAPP, OTP_SMS, PHONE_CHANGED_WHATSAPP, PHONE_CHANGED_SMS]
    for group in [
        SIGN_IN_BOUND,
        *BY_EVENT.values(),
        CANCELLED_STAFF,
        SIGNING_BLOCKED_KABUPATEN,
        SUBMITTED_WALK_IN,
        STEP_REACHED,
        ESCALATED_RESIDENT,
        SURVEY_INVITATION,
        COMPLAINT_RECEIVED_STAFF,
        COMPLAINT_ESCALATED_KABUPATEN,
        COMPLAINT_ANSWERED_RESIDENT,
    ]:
        found.extend(t for t in (group.inapp, group.email, group.whatsapp, group.sms) if t)
    return found
