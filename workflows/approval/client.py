"""The one client of the approval workflow, for intake and verification: start, decide,
resubmit, cancel, retry_issue, letter_signed, and the state. It calls the Updates and queries
through their typed definitions (contract.py), so the services never import the workflow's code
or its activities (a test walks their imports), and it turns every failure into one of three
domain errors:

- `ApprovalRefused`: the workflow's validator refused (nothing entered its history); `code` is
  an ApprovalErrorCode, `message` is written for the person who asked (Bahasa Indonesia);
- `ApprovalUnavailable`: Temporal or the worker did not answer in time; nothing changed, and
  the same request may be sent again;
- `ApprovalNotRunning`: no workflow runs for the application (`finished` tells whether one ran
  and ended, or none was ever started).

Every Update carries its request id as the Update id: Temporal answers a repeat (a double
click, a network retry) with the first outcome without adding anything to the history.
"""

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from common.domain import ApplicationStatus, ApprovalErrorCode
from common.wilayah import find_desa
from workflows.approval import WORKFLOW_NAME, contract, wording, workflow_id
from workflows.approval.errors import (
    ApprovalError,
    ApprovalNotRunning,
    ApprovalRefused,
    ApprovalUnavailable,
)
from workflows.approval.models import (
    ApprovalInput,
    ApprovalState,
    CancelInput,
    DecisionInput,
    IssueLetterInput,
    LetterSignedInput,
    ResubmitInput,
    RetryIssueInput,
)

log = logging.getLogger(__name__)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def _unreachable(exc: BaseException) -> bool:
    # A lazy client that cannot connect raises a bare RuntimeError.
    return isinstance(exc, RPCError) or (
        isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")
    )


def named(approval: ApprovalInput) -> ApprovalInput:
    """The input with its desa's and kecamatan's names (common/wilayah.py), so the workflow's
    summary line names them; a desa we do not know keeps its code only."""
    desa = find_desa(approval.desa_code)
    if desa is None or approval.desa_name:
        return approval
    return replace(approval, desa_name=desa.name, kecamatan_name=desa.kecamatan)


def static_summary(approval: ApprovalInput) -> str:
    """The Temporal UI's title line for the workflow, fixed when it starts: letter type and
    area by name, e.g. "SKD · Desa Pamanukan, Kec. Pamanukan". Never a resident's name or NIK
    (the workflow knows neither)."""
    where = wording.area(approval.desa_code, approval.desa_name, approval.kecamatan_name)
    return f"{approval.letter_type} · {where[0].upper()}{where[1:]}"


def static_details(approval: ApprovalInput) -> str:
    """The Temporal UI's details, fixed when it starts (Markdown): the area's names and
    codes, to filter by (`DesaCode`, `KecamatanCode`)."""
    lines = [f"**{approval.letter_type}**"]
    if approval.desa_name:
        lines.append(f"Desa {approval.desa_name} ({approval.desa_code})")
    else:
        lines.append(f"Desa {approval.desa_code}")
    desa = find_desa(approval.desa_code)
    if desa is not None:
        lines.append(f"Kecamatan {desa.kecamatan} ({desa.kecamatan_code})")
        lines.append(f"Kabupaten {desa.kabupaten}")
    return "  \n".join(lines)


class ApprovalClient:
    def __init__(self, client: Client, rpc_timeout: timedelta) -> None:
        self._client = client
        self._rpc_timeout = rpc_timeout

    async def start(self, task_queue: str, approval: ApprovalInput) -> str:
        """Starts the application's workflow, or finds the one already running; its run id."""
        approval = named(approval)
        try:
            handle = await self._client.start_workflow(
                WORKFLOW_NAME,
                approval,
                id=workflow_id(approval.application_id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                rpc_timeout=self._rpc_timeout,
                static_summary=static_summary(approval),
                static_details=static_details(approval),
            )
        except Exception as exc:
            if _unreachable(exc):
                log.warning("cannot start workflow of %s: %s", approval.application_id, exc)
                raise ApprovalUnavailable() from exc
            raise
        return handle.result_run_id or ""

    async def decide(self, application_id: str, decision: DecisionInput) -> ApprovalState:
        return await self._update(application_id, contract.DECIDE, decision, decision.request_id)

    async def resubmit(self, application_id: str, request_id: str) -> ApprovalState:
        return await self._update(
            application_id, contract.RESUBMIT, ResubmitInput(request_id), request_id
        )

    async def cancel(self, application_id: str, request_id: str) -> ApprovalState:
        return await self._update(
            application_id, contract.CANCEL, CancelInput(request_id), request_id
        )

    async def retry_issue(self, application_id: str, request: RetryIssueInput) -> ApprovalState:
        return await self._update(application_id, contract.RETRY_ISSUE, request, request.request_id)

    async def letter_signed(self, application_id: str, signed: LetterSignedInput) -> ApprovalState:
        return await self._update(application_id, contract.LETTER_SIGNED, signed, signed.request_id)

    async def state(self, application_id: str) -> ApprovalState:
        state: ApprovalState = await self._query(application_id, contract.STATE)
        return state

    async def issue_request(self, application_id: str) -> IssueLetterInput | None:
        """Who signs the letter and how, once every step has approved (None before)."""
        request: IssueLetterInput | None = await self._query(application_id, contract.ISSUE_REQUEST)
        return request

    async def outcome(
        self, application_id: str, wait: timedelta, *, look_every: float = 0.5
    ) -> ApprovalState | None:
        """After the last approval of a letter signed at once: its final state if the workflow
        ends within `wait` (issued), its state as soon as signing refuses the letter (it then
        waits for a retry, so waiting longer tells nothing), or None while it still signs."""
        handle = self._client.get_workflow_handle(
            workflow_id(application_id), result_type=ApprovalState
        )
        loop = asyncio.get_running_loop()
        until = loop.time() + wait.total_seconds()
        ended = asyncio.ensure_future(handle.result(rpc_timeout=wait))
        try:
            while (left := until - loop.time()) > 0:
                done, _ = await asyncio.wait({ended}, timeout=min(look_every, left))
                if done:
                    result: ApprovalState = ended.result()
                    return result
                now = await self.state(application_id)
                if now.status == ApplicationStatus.SIGNING_BLOCKED:
                    return now
            return None
        except ApprovalError:
            raise
        except Exception as exc:
            await self._translate(exc, application_id, "result")
            raise
        finally:
            ended.cancel()

    def _handle(self, application_id: str) -> WorkflowHandle[Any, Any]:
        return self._client.get_workflow_handle(workflow_id(application_id))

    async def _update(
        self,
        application_id: str,
        update: contract.UpdateDef[ArgT, ResultT],
        arg: ArgT,
        request_id: str,
    ) -> ResultT:
        try:
            result: ResultT = await self._handle(application_id).execute_update(
                update.name,
                arg,
                id=request_id,
                result_type=update.result,
                rpc_timeout=self._rpc_timeout,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in tuple(ApprovalErrorCode):
                raise ApprovalRefused(ApprovalErrorCode(cause.type), cause.message) from exc
            log.error("%s on %s failed: %r", update.name, application_id, cause)
            raise
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            log.warning("%s on %s timed out", update.name, application_id)
            raise ApprovalUnavailable() from exc
        except Exception as exc:
            await self._translate(exc, application_id, update.name)
            raise
        return result

    async def _query(self, application_id: str, query: contract.QueryDef[ResultT]) -> ResultT:
        try:
            result: ResultT = await self._handle(application_id).query(
                query.name,
                result_type=query.result,
                rpc_timeout=self._rpc_timeout,
            )
        except Exception as exc:
            await self._translate(exc, application_id, query.name)
            raise
        return result

    async def _translate(self, exc: Exception, application_id: str, what: str) -> None:
        """Raises the domain error for a failed call, if there is one."""
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            raise await self._not_running(application_id) from exc
        if _unreachable(exc):
            log.warning("%s on %s: %s", what, application_id, exc)
            raise ApprovalUnavailable() from exc

    async def _not_running(self, application_id: str) -> ApprovalError:
        """The server found no running workflow: none was started, or it has finished."""
        try:
            description = await self._handle(application_id).describe(rpc_timeout=self._rpc_timeout)
        except RPCError:
            return ApprovalNotRunning(finished=False)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return ApprovalNotRunning(finished=True)
        return ApprovalUnavailable()
