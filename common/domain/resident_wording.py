"""What a resident reads about their application, said once for both places they read it: the
portal's application page (intake) and the WhatsApp/SMS/email messages (notification). The two
services ship in separate images and cannot import each other; every image carries `common/`.

Each text is a `str.format` pattern. A message quotes the line whole (after the application's
number); the page shows the same line for the same state, so "Kirim perbaikan" in a message is
the button the resident finds on the page. Change a line here and both change together
(notification's template versions are bumped with it: templates.py).
"""

from typing import Final

# The button on the application page that sends a revised application back.
RESUBMIT_BUTTON: Final = "Kirim perbaikan"

# When a step or a revision has no deadline (a desa that set no working-time limits).
NO_DEADLINE: Final = "tidak ditetapkan"
# When the workflow recorded no reason text with a revision or a rejection.
NO_REASON: Final = "lihat halaman permohonan"

SUBMITTED: Final = "Permohonan diterima dengan nomor {number}."
STEP_REACHED: Final = "Sekarang diperiksa oleh {role}. Batas waktu: {deadline}."
# Every step approved; the signer signs remotely (BSrE). Shown on the page; messages say STEP_REACHED.
AWAITING_SIGNATURE: Final = (
    "Sudah disetujui, menunggu tanda tangan elektronik {role}. Batas waktu: {deadline}."
)
REVISION: Final = "Dikembalikan untuk perbaikan. Yang perlu diperbaiki: {reason}."
REVISION_ACTION: Final = (
    f'Ubah isian atau ganti berkas, lalu tekan "{RESUBMIT_BUTTON}". Batas waktu: {{deadline}}.'
)
REJECTED: Final = "Ditolak. Alasan: {reason}."
ISSUED: Final = "Surat sudah terbit dengan nomor {letter_number}."
EXPIRED: Final = "Ditutup karena perbaikan tidak dikirim sampai batas waktu."
REVOKED: Final = "Surat nomor {letter_number} dicabut dan tidak berlaku lagi."
ESCALATED: Final = "Melewati batas waktu di tahap {role}; permohonan Anda sedang kami percepat."
# In the app only (the resident's own acts, and each step approved), in the timeline's words.
APPROVED: Final = "Disetujui oleh {role}."
RESUBMITTED: Final = "Perbaikan dikirim ulang dan diperiksa kembali."
CANCELLED: Final = "Dibatalkan oleh pemohon."
# Once the letter is issued or refused: the satisfaction survey (Permenpan-RB 14/2017). The
# message adds its link; the page shows the same words with the same survey behind a button.
SURVEY_TITLE: Final = "Bagaimana pelayanan desa?"
SURVEY_ASK: Final = (
    "Mohon nilai pelayanan desa untuk permohonan ini: 9 pertanyaan singkat, tanpa nama"
)


def reason_text(reason: str) -> str:
    """The staff-typed reason as a line quotes it: without its own final full stop (the line
    adds one), or NO_REASON when none was given."""
    cleaned = " ".join(reason.split()).rstrip(".")
    return cleaned or NO_REASON


# Every line a message quotes; tests/intake/test_resident_wording.py finds each on the page.
LINES: tuple[str, ...] = (
    SUBMITTED,
    STEP_REACHED,
    REVISION,
    REVISION_ACTION,
    REJECTED,
    ISSUED,
    EXPIRED,
    REVOKED,
    ESCALATED,
    APPROVED,
    RESUBMITTED,
    CANCELLED,
)
