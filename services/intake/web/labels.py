"""What a resident reads for an application's status, on the list and the application's page
alike: plain Indonesian and a badge colour."""

from workflows.approval.models import (
    CANCELLED,
    DRAFT,
    EXPIRED,
    IN_REVIEW,
    ISSUED,
    REJECTED,
    REVISION_REQUESTED,
    SIGNING_BLOCKED,
)

STATUS_LABELS = {
    DRAFT: "Draf, belum diajukan",
    IN_REVIEW: "Sedang diperiksa",
    REVISION_REQUESTED: "Perlu perbaikan",
    REJECTED: "Ditolak",
    CANCELLED: "Dibatalkan",
    EXPIRED: "Kedaluwarsa",
    ISSUED: "Surat sudah terbit",
    SIGNING_BLOCKED: "Menunggu tanda tangan elektronik",
}
# app.css badge classes: green when done, amber when the resident must act, red when ended.
STATUS_BADGES = {
    ISSUED: "lencana-ok",
    REVISION_REQUESTED: "lencana-peringatan",
    DRAFT: "lencana-peringatan",
    REJECTED: "lencana-terlambat",
    EXPIRED: "lencana-terlambat",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "")
