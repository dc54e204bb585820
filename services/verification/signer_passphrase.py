"""Signing with a passphrase (BSrE): the signer types it when approving or when asking to issue a
blocked letter again. It must never enter the workflow's history (Update arguments are stored
there), a database or a log, so verification itself has signing issue the letter, with the
passphrase in the call's metadata, and then lets the workflow pick the issued letter up: the
workflow's own issuing call (without passphrase) gets the already issued letter back, because
signing issues one letter per application.

Nothing here retries the signing call: a wrong passphrase counts against the signer at BSrE."""

from __future__ import annotations  # the async stub types exist only in the .pyi

import asyncio
import logging
import time
from datetime import timedelta

import grpc
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError

from common.domain import RETRY_ISSUE_ROLES, ApplicationStatus, role_label
from common.http import Problem
from common.rpc import SIGNING_PASSPHRASE_METADATA
from services.verification.decisions import send_retry_issue
from services.verification.intake_reader import read_application
from services.verification.runtime import Runtime
from workflows.approval import workflow_id
from workflows.approval.activities import issue_letter_request
from workflows.approval.models import ApprovalState, IssueLetterInput, RetryIssueInput

log = logging.getLogger(__name__)

ISSUE_REQUEST_QUERY = "issue_request"
_POLL_S = 0.2
_UNAVAILABLE = "Layanan tanda tangan elektronik sedang tidak dapat dihubungi. Silakan coba lagi."


async def issue_request_of(client: Client, application_id: str) -> IssueLetterInput | None:
    """The letter request the workflow sends once every step is approved (None before)."""
    handle = client.get_workflow_handle(workflow_id(application_id))
    try:
        request: IssueLetterInput | None = await handle.query(
            ISSUE_REQUEST_QUERY,
            result_type=IssueLetterInput | None,  # type: ignore[arg-type]
        )
    except RPCError as exc:
        log.warning("issue request query on application %s: %s", application_id, exc.status)
        raise Problem(
            503,
            "Layanan persetujuan sedang tidak dapat dihubungi. Silakan coba lagi sebentar lagi.",
            code="workflow-unavailable",
        ) from exc
    return request


def check_may_sign(request: IssueLetterInput, actor_role: str) -> None:
    """Who may give a passphrase for a blocked letter: those the workflow lets retry it."""
    allowed = list(dict.fromkeys([request.signer_role, *RETRY_ISSUE_ROLES]))
    if actor_role not in allowed:
        who = ", ".join(role_label(r) for r in allowed)
        raise Problem(403, f"Hanya {who} yang dapat menandatangani surat ini.", code="wrong-role")


async def sign_with_passphrase(
    runtime: Runtime,
    application_id: str,
    request: IssueLetterInput,
    passphrase: SecretStr,
    *,
    approved: bool = False,
) -> None:
    """Has signing issue the letter `request` describes with the signer's passphrase. A refusal
    (wrong passphrase, BSrE unavailable) is told to the staff member; the letter stays as the
    workflow keeps it (signing_blocked) and nothing is retried on its own."""
    settings = runtime.settings
    app = await read_application(runtime.intake, application_id, settings.intake_timeout_seconds)
    recorded = "Persetujuan Anda sudah tercatat, tetapi " if approved else ""
    try:
        await runtime.signing.IssueLetter(
            issue_letter_request(app, request),
            metadata=((SIGNING_PASSPHRASE_METADATA, passphrase.get_secret_value()),),
            timeout=settings.signing_issue_timeout_seconds,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            # Signing's reason is for staff (Indonesian) and never carries the passphrase.
            raise Problem(
                422,
                f"{recorded}surat belum dapat ditandatangani: {exc.details()} "
                "Surat tertahan sampai ditandatangani ulang.",
                code="signing-refused",
            ) from exc
        log.warning("signing application %s with a passphrase: %s", application_id, exc.code())
        raise Problem(
            503,
            f"{recorded}{_UNAVAILABLE}" if approved else _UNAVAILABLE,
            code="signing-unavailable",
        ) from exc


async def let_workflow_pick_up(
    client: Client, application_id: str, retry: RetryIssueInput, wait: timedelta
) -> ApprovalState:
    """The letter is issued in signing: once the workflow's own attempt has been refused
    (signing_blocked), ask it to try again, which gets the issued letter; if its attempt got
    the letter already, it says issued. Waits at most `wait`, then answers with the state as
    it is (the workflow's timer picks the letter up later)."""
    handle = client.get_workflow_handle(workflow_id(application_id))
    deadline = time.monotonic() + wait.total_seconds()
    while True:
        state: ApprovalState = await handle.query("state", result_type=ApprovalState)
        if state.status == ApplicationStatus.SIGNING_BLOCKED:
            try:
                return await send_retry_issue(client, application_id, retry, wait)
            except Problem as exc:
                if exc.code != "not-blocked":  # NotBlocked: its own attempt got the letter
                    raise
        elif state.status == ApplicationStatus.ISSUED:
            return state
        if time.monotonic() >= deadline:
            return state
        await asyncio.sleep(_POLL_S)
