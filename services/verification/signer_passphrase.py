"""Signing with a passphrase (BSrE): the signer types it when approving the last step, or later
on the letter that waits for their signature. It must never enter the workflow's history
(Update arguments are stored there), a database or a log, so verification itself has signing
issue the letter, with the passphrase in the call's metadata, and then tells the workflow the
letter is signed (the Update `letter_signed`, carrying only the issued letter's reference).

A letter that signing refused (signing_blocked, e.g. started before remote signers had their
own state) is signed the same way and then picked up with `retry_issue`: the workflow's own
issuing call gets the already issued letter back, as signing issues one letter per application.

A kecamatan whose camat signs through BSrE works the same way (issue 18): after the camat's
approval the letter waits for the camat's signature (the state's step role is "camat"), and the
camat's passphrase goes to signing under its own metadata key, which certifies the letter with
the desa's key and adds the camat's "mengetahui" through BSrE. A refused passphrase leaves the
letter certified but not issued; the camat's next try reuses both numbers. In a desa that signs
through BSrE too, the desa signer signs first (the issue request says `camat_signs_later`:
signing only certifies) and the camat afterwards, each with their own passphrase and task.

Nothing here retries the signing call: a wrong passphrase counts against the signer at BSrE."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import logging
from dataclasses import dataclass
from datetime import timedelta

import grpc
from pydantic import SecretStr

from common.domain import ApplicationStatus, Role, who_may_sign
from common.domain.errors import Conflict, Forbidden, Invalid, Unavailable
from common.rpc import SIGNING_CAMAT_PASSPHRASE_METADATA, SIGNING_PASSPHRASE_METADATA
from services.verification.decisions import (
    approval_state,
    issue_request_of,
    send_letter_signed,
    send_retry_issue,
)
from services.verification.intake_reader import read_application
from services.verification.kecamatan import active_camat
from services.verification.runtime import Runtime
from workflows.approval.issuing import issue_letter_request
from workflows.approval.models import (
    ApprovalState,
    IssueLetterInput,
    LetterInfo,
    LetterSignedInput,
    RetryIssueInput,
)
from workflows.approval.wording import may_not_sign

log = logging.getLogger(__name__)

_UNAVAILABLE = "Layanan tanda tangan elektronik sedang tidak dapat dihubungi. Silakan coba lagi."
NOT_WAITING = "Surat ini tidak sedang menunggu tanda tangan."


@dataclass(frozen=True)
class Signer:
    """The staff member who gives the passphrase, in the role they act in."""

    username: str
    role: str
    desa_code: str


def check_may_sign(signer_role: str, actor_role: str) -> None:
    """Checked before signing is called (a refused Update afterwards would be too late: BSrE
    has signed); the workflow's validators check the same rule (common.domain.who_may_sign)."""
    allowed = who_may_sign(signer_role)
    if actor_role not in allowed:
        raise Forbidden("wrong-role", may_not_sign(allowed))


async def sign(
    runtime: Runtime,
    application_id: str,
    signer: Signer,
    request_id: str,
    passphrase: SecretStr,
    *,
    approved: bool = False,
) -> ApprovalState:
    """Has the letter waiting for its signature (or blocked at signing) signed with `passphrase`
    and the workflow told; answers with the workflow's state after that (issued)."""
    wait = timedelta(seconds=runtime.settings.decision_timeout_seconds)
    issue = await issue_request_of(await runtime.temporal.client(), application_id, wait)
    if issue is None:  # not every step has approved it: there is nothing to sign yet
        raise Conflict("not-awaiting-signature", NOT_WAITING)
    temporal = await runtime.temporal.client()
    before = await approval_state(temporal, application_id, wait)
    # The camat's "mengetahui" awaited (a BSrE kecamatan), else the desa signer's signature.
    camat = before.status == ApplicationStatus.AWAITING_SIGNATURE and before.step_role == Role.CAMAT
    check_may_sign(Role.CAMAT if camat else issue.signer_role, signer.role)
    letter = await sign_with_passphrase(
        runtime, application_id, issue, passphrase, approved, for_camat=camat
    )
    state = await approval_state(temporal, application_id, wait)
    if state.status == ApplicationStatus.SIGNING_BLOCKED:
        retry = RetryIssueInput(request_id, signer.username, signer.role, signer.desa_code)
        return await send_retry_issue(await runtime.temporal.client(), application_id, retry, wait)
    if state.status != ApplicationStatus.AWAITING_SIGNATURE:
        return state  # issued already (a repeat of this request)
    signed = LetterSignedInput(request_id, signer.username, signer.role, signer.desa_code, letter)
    return await send_letter_signed(await runtime.temporal.client(), application_id, signed, wait)


async def sign_with_passphrase(
    runtime: Runtime,
    application_id: str,
    request: IssueLetterInput,
    passphrase: SecretStr,
    approved: bool = False,
    *,
    for_camat: bool = False,
) -> LetterInfo:
    """Has signing issue the letter `request` describes with the signer's passphrase (the
    camat's, for the "mengetahui", when `for_camat`). A refusal (wrong passphrase, BSrE
    unavailable) is told to the staff member; the letter keeps waiting for its signature and
    nothing is retried on its own."""
    settings = runtime.settings
    app = await read_application(runtime.intake, application_id, settings.intake_timeout_seconds)
    recorded = "Persetujuan Anda sudah tercatat, tetapi " if approved else ""
    camat_name = ""
    if request.kecamatan_code:  # the camat's stamp, as the worker's issuing call gives it
        async with runtime.sessions() as session:
            camat = await active_camat(session, request.kecamatan_code)
        camat_name = camat.full_name if camat is not None else ""
    try:
        issued = await runtime.signing.IssueLetter(
            issue_letter_request(app, request, camat_name),
            metadata=(
                (
                    SIGNING_CAMAT_PASSPHRASE_METADATA if for_camat else SIGNING_PASSPHRASE_METADATA,
                    passphrase.get_secret_value(),
                ),
            ),
            timeout=settings.signing_issue_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            # Signing's reason is for staff (Indonesian) and never carries the passphrase.
            raise Invalid(
                "signing-refused",
                f"{recorded}surat belum dapat ditandatangani: {exc.details()} "
                "Surat menunggu sampai ditandatangani ulang.",
            ) from exc
        log.warning("signing application %s with a passphrase: %s", application_id, exc.code())
        raise Unavailable(
            "signing-unavailable", f"{recorded}{_UNAVAILABLE}" if approved else _UNAVAILABLE
        ) from exc
    return LetterInfo(
        letter_id=issued.letter_id,
        number=issued.number,
        verification_url=issued.verification_url,
    )
