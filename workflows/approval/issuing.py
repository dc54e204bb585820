"""The signing request for an approved letter, built from intake's application and the
workflow's IssueLetterInput: by the issue_letter activity, and by verification when a remote
signer signs with their passphrase (the same letter either way)."""

from smartdesa.v1 import intake_pb2, signing_pb2

from workflows.approval.models import IssueLetterInput


def issue_letter_request(
    application: intake_pb2.Application, input: IssueLetterInput, camat_name: str = ""
) -> signing_pb2.IssueLetterRequest:
    """The letter signing issues for `application`, signed as `input` says. Built here for the
    workflow's activity and for verification, which sends it with a signer's passphrase."""
    return signing_pb2.IssueLetterRequest(
        application_id=application.id,
        desa_code=application.desa_code,
        letter_type=application.letter_type,
        purpose=application.purpose,
        fields=dict(application.fields),
        nik=application.nik,
        signer_role=input.signer_role,
        signer_username=input.signer_username,
        on_behalf_of_role=input.on_behalf_of_role,
        signer_is_plt=input.signer_is_plt,
        # The catalogue version the application started with: its letter is that version's.
        letter_type_version=application.letter_type_version,
        kecamatan_code=input.kecamatan_code,
        # The camat account's printed name (looked up by the caller, never in history).
        camat_name=camat_name,
        camat_signs_later=input.camat_signs_later,
    )
