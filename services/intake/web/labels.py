from common.domain import ApplicationStatus

"""What a resident reads for an application's status, on the list and the application's page
alike: plain Indonesian and a badge colour."""


STATUS_LABELS: dict[str, str] = {
    ApplicationStatus.DRAFT: "Draf, belum diajukan",
    ApplicationStatus.IN_REVIEW: "Sedang diperiksa",
    ApplicationStatus.REVISION_REQUESTED: "Perlu perbaikan",
    ApplicationStatus.REJECTED: "Ditolak",
    ApplicationStatus.CANCELLED: "Dibatalkan",
    ApplicationStatus.EXPIRED: "Kedaluwarsa",
    ApplicationStatus.ISSUED: "Surat sudah terbit",
    ApplicationStatus.SIGNING_BLOCKED: "Menunggu tanda tangan elektronik",
    ApplicationStatus.AWAITING_SIGNATURE: "Disetujui, menunggu tanda tangan",
}
# app.css badge classes: green when done, amber when the resident must act, red when ended.
STATUS_BADGES: dict[str, str] = {
    ApplicationStatus.ISSUED: "lencana-ok",
    ApplicationStatus.REVISION_REQUESTED: "lencana-peringatan",
    ApplicationStatus.DRAFT: "lencana-peringatan",
    ApplicationStatus.REJECTED: "lencana-terlambat",
    ApplicationStatus.EXPIRED: "lencana-terlambat",
}


# A status added to the workflow after these labels (e.g. waiting for a signature) still reads
# as words, never as its code.
UNKNOWN_STATUS_LABEL = "Sedang diproses"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, UNKNOWN_STATUS_LABEL)


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "")
