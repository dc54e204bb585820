"""What the approval workflow says, in Bahasa Indonesia: the refusals staff and residents read
(the validators' ApplicationError messages, which the services pass on) and the one-line summary
Diskominfo reads in the Temporal UI. No personal data: the summary names roles, codes and times
only (signing's refusal reasons may name people, so they stay in intake's timeline)."""

from typing import TYPE_CHECKING

from common.domain import ApplicationStatus, role_label
from common.wib import wib_datetime

if TYPE_CHECKING:
    from workflows.approval.state import LetterState

# The step whose approval signs is the last desa step, which is not the route's last when the
# letter then goes through the kecamatan: the words name the step, not its place.
KABUPATEN_MAY_NOT_SIGN = (
    "Persetujuan pada langkah ini menandatangani surat, dan hanya penandatangan desa yang "
    "dapat melakukannya. Operator kabupaten dapat mengembalikan permohonan untuk perbaikan atau "
    "menolaknya, dan menghubungi desa agar surat segera ditandatangani."
)
KABUPATEN_MAY_NOT_SIGN_FOR_CAMAT = (
    'Persetujuan pada langkah ini membubuhkan tanda tangan "Mengetahui" Camat, dan hanya Camat '
    "yang dapat melakukannya. Operator kabupaten dapat mengembalikan permohonan untuk perbaikan "
    "atau menolaknya, dan menghubungi kecamatan agar surat segera ditandatangani."
)
FINISHED = "Permohonan ini sudah selesai diproses."
INVALID_DECISION = "Keputusan harus approve, revise atau reject."
OTHER_DESA = "Permohonan ini bukan dari desa Anda."
STALE_STEP = "Langkah ini sudah tidak menunggu keputusan. Muat ulang untuk melihat keadaan terbaru."
REASON_REQUIRED = "Alasan wajib diisi untuk mengembalikan atau menolak permohonan."
NOT_AWAITING_RESUBMIT = "Permohonan ini tidak sedang menunggu perbaikan."
NOT_CANCELLABLE = "Permohonan ini sudah disetujui atau sudah dibatalkan; tidak dapat dibatalkan."
BUSY = "Permohonan ini sedang diproses. Muat ulang lalu coba lagi."
NOT_BLOCKED = (
    "Surat ini tidak sedang tertahan di tanda tangan elektronik, atau sedang dicoba lagi. "
    "Muat ulang untuk melihat keadaan terbaru."
)
NOT_AWAITING_SIGNATURE = (
    "Surat ini tidak sedang menunggu tanda tangan. Muat ulang untuk melihat keadaan terbaru."
)
NO_LETTER = "Surat yang ditandatangani tidak disebutkan."
REQUEST_REUSED = (
    "Nomor permintaan ini sudah dipakai oleh petugas lain. Muat ulang lalu kirim keputusan Anda."
)


def wrong_role(allowed: list[str]) -> str:
    who = " atau ".join(role_label(r) for r in allowed)
    return f"Langkah ini menunggu keputusan {who}, bukan peran Anda."


def revision_limit(rounds: int, limit: int) -> str:
    return (
        f"Permohonan ini sudah {rounds} kali dikembalikan untuk perbaikan "
        f"(batas {limit} kali). Setujui atau tolak permohonan ini."
    )


def may_not_sign(allowed: list[str]) -> str:
    who = ", ".join(role_label(r) for r in allowed)
    return f"Hanya {who} yang dapat menandatangani atau menerbitkan ulang surat ini."


def area(desa_code: str, desa_name: str, kecamatan_name: str) -> str:
    """Where the letter is from, as Diskominfo reads it: "Desa Pamanukan, Kec. Pamanukan";
    the desa code when its names are not known."""
    if not desa_name:
        return f"desa {desa_code}"
    text = f"Desa {desa_name}"
    return f"{text}, Kec. {kecamatan_name}" if kecamatan_name else text


def summary(letter: "LetterState") -> str:
    """The Temporal UI's line for the letter, e.g. "SKD Desa Pamanukan, Kec. Pamanukan:
    Menunggu Sekretaris Desa sejak ..., tenggat ..."."""
    where = area(letter.input.desa_code, letter.input.desa_name, letter.input.kecamatan_name)
    return f"{letter.input.letter_type} {where}: {_where(letter)}"


def _where(letter: "LetterState") -> str:
    status, role = letter.status, letter.step_role
    if status == ApplicationStatus.AWAITING_SIGNATURE and role is not None:
        return "Menunggu tanda tangan " + _waiting_on(letter, role)
    if role is not None:
        return "Menunggu " + _waiting_on(letter, role)
    if status == ApplicationStatus.REVISION_REQUESTED:
        text = "Menunggu perbaikan dari pemohon"
        if letter.deadline is not None:
            text += f", kedaluwarsa {wib_datetime(letter.deadline)}"
        return text
    if status == ApplicationStatus.SIGNING_BLOCKED:
        text = "Tertahan di tanda tangan elektronik"
        if letter.assignee is not None:
            text += f" ({role_label(letter.assignee)})"
        if letter.blocked_since is not None:
            text += f" sejak {wib_datetime(letter.blocked_since)}"
        if letter.next_issue_attempt is not None:
            text += f", dicoba lagi {wib_datetime(letter.next_issue_attempt)}"
        return text
    return _FINAL.get(status, "Menerbitkan surat")


def _waiting_on(letter: "LetterState", role: str) -> str:
    text = role_label(role)
    if letter.step_started is not None:
        text += f" sejak {wib_datetime(letter.step_started)}"
    if letter.deadline is not None:
        text += f", tenggat {wib_datetime(letter.deadline)}"
    if letter.overdue and letter.assignee is not None:
        text += f"; terlambat, dieskalasi ke {role_label(letter.assignee)}"
    return text


_FINAL = {
    ApplicationStatus.ISSUED: "Surat terbit",
    ApplicationStatus.REJECTED: "Ditolak",
    ApplicationStatus.CANCELLED: "Dibatalkan oleh pemohon",
    ApplicationStatus.EXPIRED: "Kedaluwarsa: tidak diperbaiki tepat waktu",
}
