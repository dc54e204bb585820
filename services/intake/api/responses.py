"""Responses the resident API and the portal's pages both give."""

from fastapi import Response

from common.http import pdf_response
from services.intake.resident_actions import SignedLetter


def letter_response(letter: SignedLetter, *, inline: bool = False) -> Response:
    """The signed letter as a download (or shown, for printing) that no cache keeps: it carries
    the resident's NIK."""
    return pdf_response(
        letter.content,
        letter.filename,
        inline=inline,
        cache_control="no-store",
        headers={"Referrer-Policy": "no-referrer"},
    )
