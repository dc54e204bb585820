"""LetterApprovalWorkflow: one per application. It walks the route its letter type has in the
desa (resolved once at start, so a running letter keeps the route it started with), waits at
each step for the assignee's decision (a Temporal Update whose validator refuses wrong role,
wrong desa, stale steps and finished letters before anything enters history), reminds the
assignee before the step's deadline (counted in the desa's working hours), escalates to the
supervisor at the deadline and to the kabupaten operator at a second one, and after the last
approval has the signing service issue the letter. Returned for revision, it waits a number of
calendar days for the resident to resubmit, then expires. The resident may cancel while it waits.

Workflow code must stay deterministic: no I/O, no clocks but workflow.now(), activities called
by name so this module imports nothing that does I/O. Holidays arrive as data (the route).

Versioning: the skeleton version of this workflow had no timers, no search attributes and no
expiry. Letters it started are still running, and their histories have none of those commands,
so the new behaviour sits behind `workflow.patched(PATCH_DEADLINES)`, checked once at the start
of `run`: a letter whose history began without the marker keeps the skeleton's behaviour (it
waits without deadlines and never expires) and replays exactly; new letters record the marker
first and get everything. Changes that add no commands (cancel, the revision limit, richer
activity inputs, the decider's details for the letter) need no patch. Replay tests over stored
histories (tests/workflows/histories) guard this in CI.

Signing blocked (`workflow.patched(PATCH_SIGNING_BLOCKED)`, checked where issuing fails): when
signing refuses the letter for good (a business error such as the signer having no certificate,
a Plt's printed name missing, a bad number format), the letter is not lost. The workflow records
`application.signing_blocked` once (the reason goes to intake's timeline, for staff), shows
Status "signing_blocked" and AssigneeRole = the signer role, and tries again on a durable timer:
every 15 minutes for the first hour, hourly for the rest of the first day, then every 6 hours,
until signing issues it. Staff of the desa (the signer role, the Sekdes, the Kades) may ask for
an immediate retry once they fixed the cause (the `retry_issue` Update). The resident still
cannot cancel: every step has approved the letter and staff are told to fix it. Histories
recorded before this change never failed at issuing in a workflow that kept running (such a
workflow failed), so the marker is only ever looked for on the new path.
"""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributeUpdate,
    SearchAttributeValueType,
)
from temporalio.exceptions import ActivityError, ApplicationError

from common.domain import (
    RETRY_ISSUE_ROLES,
    ApplicationStatus,
    ApprovalErrorCode,
    DecidedAs,
    Decision,
    Role,
    role_label,
    supervisor_of,
)
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
    LETTER_ISSUED,
)
from common.wib import wib_datetime
from workflows.approval import WORKFLOW_NAME
from workflows.approval import search_attributes as sa
from workflows.approval.models import (
    ACTIVITY_ISSUE_LETTER,
    ACTIVITY_RECORD_PROGRESS,
    ACTIVITY_RESOLVE_ROUTE,
    ApprovalInput,
    ApprovalState,
    CancelInput,
    DecisionInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    ResubmitInput,
    RetryIssueInput,
    Route,
    RouteStep,
)
from workflows.approval.working_time import add_working_hours, parse_days_off

# Deadlines, reminders, escalation, expiry and search attributes (see the module docstring).
PATCH_DEADLINES = "deadlines-escalation-expiry-v1"
# A letter signing refuses waits (visibly) and is retried instead of failing the workflow.
PATCH_SIGNING_BLOCKED = "signing-blocked-retry-v1"

_SERVICE_CALL_TIMEOUT = timedelta(seconds=30)
_ISSUE_TIMEOUT = timedelta(minutes=2)
# Services may be down for a while (a restart, a deploy): keep retrying, but not in a hot loop.
_SERVICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
_FINISHED_STATUSES = (
    ApplicationStatus.REJECTED,
    ApplicationStatus.ISSUED,
    ApplicationStatus.CANCELLED,
    ApplicationStatus.EXPIRED,
)

_REMIND = "remind"
_ESCALATE = "escalate"
# The last working hour before the deadline gets its own reminder.
_LAST_HOUR = 1.0

# Retrying a blocked letter: often at first (the cause is often fixed within the hour), then
# hourly for the rest of the first day, then every 6 hours, which keeps the history of a letter
# blocked for weeks small (a few events per attempt).
_RETRY_SOON = timedelta(minutes=15)
_RETRY_SOON_TIMES = 4
_RETRY_HOURLY = timedelta(hours=1)
_RETRY_HOURLY_UNTIL = timedelta(days=1)
_RETRY_LATER = timedelta(hours=6)
# Desa staff who may ask for an immediate retry besides the signer role itself.
_RETRY_ROLES = RETRY_ISSUE_ROLES
_REASON_MAX = 500


def _issue_retry_delay(failures: int, blocked_for: timedelta) -> timedelta:
    """How long to wait after the `failures`-th refused attempt, blocked for `blocked_for`."""
    if failures <= _RETRY_SOON_TIMES:
        return _RETRY_SOON
    if blocked_for < _RETRY_HOURLY_UNTIL:
        return _RETRY_HOURLY
    return _RETRY_LATER


def _refusal_reason(error: ApplicationError) -> str:
    """Signing's own words (the activity passes them as the error's details), else the
    error's message."""
    details = error.details
    reason = details[0] if details and isinstance(details[0], str) and details[0] else ""
    return (reason or error.message)[:_REASON_MAX]


def _attribute_update(
    sent: dict[str, object],
    key: SearchAttributeKey[SearchAttributeValueType],
    value: SearchAttributeValueType | None,
) -> SearchAttributeUpdate[SearchAttributeValueType] | None:
    """The upsert for `key` if its value changed since last sent, else None."""
    if key.name in sent and sent[key.name] == value:
        return None
    if key.name not in sent and value is None:
        return None  # never set: nothing to unset
    sent[key.name] = value
    return key.value_unset() if value is None else key.value_set(value)


@workflow.defn(name=WORKFLOW_NAME)
class LetterApprovalWorkflow:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        self._input = input
        self._status = ApplicationStatus.IN_REVIEW
        self._route: Route | None = None
        self._step_index: int | None = None
        self._letter: LetterInfo | None = None
        self._sequence = 0
        # False for letters the skeleton version started (no patch marker in their history).
        self._timed = False
        self._days_off: frozenset[date] = frozenset()
        self._step_started: datetime | None = None
        self._deadline: datetime | None = None
        self._overdue = False
        self._escalation_level = 0
        self._revision_rounds = 0
        self._issuing = False
        # While signing refuses the letter: why, since when and when it is tried next.
        self._issue_request: IssueLetterInput | None = None
        self._blocked_reason = ""
        self._blocked_since: datetime | None = None
        self._next_issue_attempt: datetime | None = None
        # Who is asked to act now: the step's role, after escalation whoever was told, the
        # resident while a revision is awaited (the AssigneeRole search attribute).
        self._assignee: str | None = None
        # Handed from the update handlers to the main loop.
        self._pending_decision: DecisionInput | None = None
        self._pending_resubmit: ResubmitInput | None = None
        self._pending_cancel: CancelInput | None = None
        self._pending_retry: RetryIssueInput | None = None
        # The request the main loop is acting on; answered once its effects are recorded.
        self._request_in_progress: str | None = None
        # Every request id accepted, and the answer of each one finished: a retried request
        # (same id) gets the same answer and changes nothing.
        self._accepted: set[str] = set()
        self._results: dict[str, ApprovalState] = {}
        # Search attribute values last upserted, so only changes are sent.
        self._attributes_sent: dict[str, object] = {}

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalState:
        self._timed = workflow.patched(PATCH_DEADLINES)
        route = await workflow.execute_activity(
            ACTIVITY_RESOLVE_ROUTE,
            input,
            result_type=Route,
            start_to_close_timeout=_SERVICE_CALL_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )
        self._route = route
        self._days_off = parse_days_off([*route.days_off, *route.calendar.local_days_off])
        final_decision: DecisionInput | None = None
        index = 0
        while index < len(route.steps):
            self._step_index = index
            self._start_step(route.steps[index])
            self._show()
            await self._record(APPLICATION_STEP_ASSIGNED)
            self._answer_request_in_progress()

            if await self._wait_for_decision(route.steps[index]):
                return await self._cancel()
            decision = self._take_decision()
            decided_as = self._decided_as(decision)
            if decision.decision == Decision.APPROVE:
                await self._record(APPLICATION_DECIDED, decision=decision, decided_as=decided_as)
                final_decision = decision
                index += 1
            elif decision.decision == Decision.REVISE:
                self._revision_rounds += 1
                self._status = ApplicationStatus.REVISION_REQUESTED
                self._end_step()
                self._assignee = Role.RESIDENT
                self._deadline = (
                    workflow.now() + timedelta(days=route.resubmit_days) if self._timed else None
                )
                self._show()
                await self._record(
                    APPLICATION_REVISION_REQUESTED, decision=decision, decided_as=decided_as
                )
                self._answer_request_in_progress()
                outcome = await self._wait_for_resubmit()
                if outcome == ApplicationStatus.CANCELLED:
                    return await self._cancel()
                if outcome == ApplicationStatus.EXPIRED:
                    return await self._expire()
                self._take_resubmit()
                self._status = ApplicationStatus.IN_REVIEW
                await self._record(APPLICATION_RESUBMITTED)
                # The loop assigns the same step again (with a fresh deadline), not the first.
            else:
                self._status = ApplicationStatus.REJECTED
                self._end_step()
                self._show()
                await self._record(APPLICATION_REJECTED, decision=decision, decided_as=decided_as)
                return await self._finish()

        # Every step approved: answer the last approver now, then issue the letter.
        self._issuing = True
        self._end_step()
        self._show()
        self._answer_request_in_progress()
        self._letter = await self._issue(route, self._issue_input(route, final_decision))
        self._status = ApplicationStatus.ISSUED
        self._assignee = None
        self._show()
        await self._record(LETTER_ISSUED)
        return await self._finish()

    # -- issuing ---------------------------------------------------------------------------

    async def _issue(self, route: Route, request: IssueLetterInput) -> LetterInfo:
        """Has signing issue the letter; while signing refuses it, keeps it (signing_blocked)
        and tries again on a timer or when staff ask."""
        self._issue_request = request
        failures = 0
        while True:
            try:
                letter: LetterInfo = await workflow.execute_activity(
                    ACTIVITY_ISSUE_LETTER,
                    request,
                    result_type=LetterInfo,
                    start_to_close_timeout=_ISSUE_TIMEOUT,
                    retry_policy=_SERVICE_RETRY,
                )
            except ActivityError as failure:
                cause = failure.cause
                if not isinstance(cause, ApplicationError) or not workflow.patched(
                    PATCH_SIGNING_BLOCKED
                ):
                    raise
                failures += 1
                await self._block(route, request, _refusal_reason(cause))
            else:
                self._blocked_reason = ""
                self._next_issue_attempt = None
                if self._pending_retry is not None:
                    # Asked for while the last attempt ran: answered with the issued letter.
                    self._take_retry()
                return letter

            assert self._blocked_since is not None
            self._next_issue_attempt = workflow.now() + _issue_retry_delay(
                failures, workflow.now() - self._blocked_since
            )
            self._show()
            self._answer_request_in_progress()  # a staff retry that failed again: still blocked
            await self._wait_until(
                lambda: self._pending_retry is not None, self._next_issue_attempt, "retry-issue"
            )
            if self._pending_retry is not None:
                self._take_retry()
            self._next_issue_attempt = None

    async def _block(self, route: Route, request: IssueLetterInput, reason: str) -> None:
        self._blocked_reason = reason
        if self._status == ApplicationStatus.SIGNING_BLOCKED:
            return  # recorded once; later refusals only refresh the reason shown
        self._status = ApplicationStatus.SIGNING_BLOCKED
        self._assignee = request.signer_role
        self._blocked_since = workflow.now()
        self._show()
        # The signing "step" comes after the route's last one; its role is the signer's.
        await self._record(
            APPLICATION_SIGNING_BLOCKED,
            reason=reason,
            step=(len(route.steps), request.signer_role),
        )

    def _take_retry(self) -> None:
        request = self._pending_retry
        assert request is not None
        self._pending_retry = None
        self._request_in_progress = request.request_id

    # -- waiting ---------------------------------------------------------------------------

    async def _wait_for_decision(self, step: RouteStep) -> bool:
        """Waits for a decision, reminding and escalating as the step's deadlines pass.
        Returns True when the resident cancelled instead."""

        def ready() -> bool:
            return self._pending_decision is not None or self._pending_cancel is not None

        if self._timed:
            for due, action in self._step_timers(step):
                if ready():
                    break
                if not await self._wait_until(ready, due, action):
                    await self._on_timer(action)
        await workflow.wait_condition(ready)
        return self._pending_decision is None

    async def _wait_for_resubmit(self) -> str:
        """IN_REVIEW when the resident resubmitted, CANCELLED or EXPIRED otherwise."""

        def ready() -> bool:
            return self._pending_resubmit is not None or self._pending_cancel is not None

        if self._timed and self._deadline is not None:
            if not await self._wait_until(ready, self._deadline, "resubmit-expiry"):
                return ApplicationStatus.EXPIRED
        await workflow.wait_condition(ready)
        return (
            ApplicationStatus.IN_REVIEW
            if self._pending_resubmit is not None
            else ApplicationStatus.CANCELLED
        )

    async def _wait_until(self, ready: Callable[[], bool], due: datetime, summary: str) -> bool:
        """True when `ready` became true before `due`, False when `due` came first."""
        remaining = due - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(ready, timeout=remaining, timeout_summary=summary)
            except TimeoutError:
                pass
        return ready()

    def _step_timers(self, step: RouteStep) -> list[tuple[datetime, str]]:
        """Reminders at half the step's time and at the start of its last working hour, the
        deadline (escalation to the supervisor), and a second deadline as long again
        (escalation to the kabupaten operator)."""
        assert self._step_started is not None and self._deadline is not None and self._route
        calendar = self._route.calendar
        hours = step.deadline_working_hours
        reminders = {add_working_hours(self._step_started, hours / 2, calendar, self._days_off)}
        if hours > _LAST_HOUR:
            reminders.add(
                add_working_hours(self._step_started, hours - _LAST_HOUR, calendar, self._days_off)
            )
        timers = [
            (r, _REMIND) for r in sorted(reminders) if self._step_started < r < self._deadline
        ]
        second = add_working_hours(self._deadline, hours, calendar, self._days_off)
        return [*timers, (self._deadline, _ESCALATE), (second, _ESCALATE)]

    async def _on_timer(self, action: str) -> None:
        role = self._current_role()
        assert role is not None
        if action == _REMIND:
            await self._record(APPLICATION_REMINDED)
            return
        self._escalation_level += 1
        self._overdue = True
        escalated_to = (
            supervisor_of(role) if self._escalation_level == 1 else Role.KABUPATEN_OPERATOR
        )
        self._assignee = escalated_to
        self._show()
        await self._record(APPLICATION_ESCALATED, escalated_to_role=escalated_to)

    # -- messages --------------------------------------------------------------------------

    @workflow.query
    def state(self) -> ApprovalState:
        route = [s.role for s in self._route.steps] if self._route else []
        role = (
            route[self._step_index]
            if self._step_index is not None and self._step_index < len(route)
            else None
        )
        return ApprovalState(
            application_id=self._input.application_id,
            status=self._status,
            route=route,
            step_index=self._step_index,
            step_role=role,
            letter=self._letter,
            step_started=self._step_started,
            deadline=self._deadline,
            overdue=self._overdue,
            escalation_level=self._escalation_level,
            revision_rounds=self._revision_rounds,
            blocked_reason=self._blocked_reason,
            next_issue_attempt=self._next_issue_attempt,
        )

    @workflow.query
    def issue_request(self) -> IssueLetterInput | None:
        """Who signs the letter and how, once every step is approved (None before): staff who
        sign with a passphrase (BSrE) have verification issue exactly this letter."""
        return self._issue_request

    @workflow.update
    async def decide(self, decision: DecisionInput) -> ApprovalState:
        if decision.request_id not in self._accepted:
            self._accepted.add(decision.request_id)
            self._pending_decision = decision
        await workflow.wait_condition(lambda: decision.request_id in self._results)
        return self._results[decision.request_id]

    @decide.validator
    def validate_decide(self, decision: DecisionInput) -> None:
        """Refuses before anything is written to history. Messages are read by staff."""
        if decision.request_id in self._accepted:
            return  # a retry of a decision already taken: answered with the same result
        self._refuse_if_finished()
        if decision.decision not in tuple(Decision):
            raise ApplicationError(
                "Keputusan harus approve, revise atau reject.",
                type=ApprovalErrorCode.INVALID,
                non_retryable=True,
            )
        if decision.actor_desa_code != self._input.desa_code:
            raise ApplicationError(
                "Permohonan ini bukan dari desa Anda.",
                type=ApprovalErrorCode.WRONG_DESA,
                non_retryable=True,
            )
        current = self._current_role()
        if (
            current is None
            or decision.step_index != self._step_index
            or self._pending_decision is not None
            or self._pending_cancel is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Langkah ini sudah tidak menunggu keputusan. Muat ulang untuk melihat keadaan terbaru.",
                type=ApprovalErrorCode.STALE_STEP,
                non_retryable=True,
            )
        allowed = self._roles_allowed(current)
        if decision.actor_role not in allowed:
            who = " atau ".join(role_label(r) for r in allowed)
            raise ApplicationError(
                f"Langkah ini menunggu keputusan {who}, bukan peran Anda.",
                type=ApprovalErrorCode.WRONG_ROLE,
                non_retryable=True,
            )
        if decision.decision in (Decision.REVISE, Decision.REJECT) and not decision.reason.strip():
            raise ApplicationError(
                "Alasan wajib diisi untuk mengembalikan atau menolak permohonan.",
                type=ApprovalErrorCode.INVALID,
                non_retryable=True,
            )
        limit = self._route.max_revision_rounds if self._route else 0
        if decision.decision == Decision.REVISE and self._revision_rounds >= limit:
            raise ApplicationError(
                f"Permohonan ini sudah {self._revision_rounds} kali dikembalikan untuk perbaikan "
                f"(batas {limit} kali). Setujui atau tolak permohonan ini.",
                type=ApprovalErrorCode.INVALID,
                non_retryable=True,
            )

    @workflow.update
    async def resubmit(self, request: ResubmitInput) -> ApprovalState:
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._pending_resubmit = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @resubmit.validator
    def validate_resubmit(self, request: ResubmitInput) -> None:
        if request.request_id in self._accepted:
            return
        self._refuse_if_finished()
        if (
            self._status != ApplicationStatus.REVISION_REQUESTED
            or self._pending_resubmit is not None
            or self._pending_cancel is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Permohonan ini tidak sedang menunggu perbaikan.",
                type=ApprovalErrorCode.NOT_AWAITING_RESUBMIT,
                non_retryable=True,
            )

    @workflow.update  # named "cancel": intake calls it by that name
    async def cancel(self, request: CancelInput) -> ApprovalState:
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._pending_cancel = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @cancel.validator
    def validate_cancel(self, request: CancelInput) -> None:
        """The resident may cancel while the letter waits on staff or on them. Messages are
        read by the resident."""
        if request.request_id in self._accepted:
            return
        self._refuse_if_finished()
        if self._issuing or self._pending_cancel is not None:
            raise ApplicationError(
                "Permohonan ini sudah disetujui atau sudah dibatalkan; tidak dapat dibatalkan.",
                type=ApprovalErrorCode.FINISHED,
                non_retryable=True,
            )
        if (
            self._pending_decision is not None
            or self._pending_resubmit is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Permohonan ini sedang diproses. Muat ulang lalu coba lagi.",
                type=ApprovalErrorCode.STALE_STEP,
                non_retryable=True,
            )

    @workflow.update
    async def retry_issue(self, request: RetryIssueInput) -> ApprovalState:
        """Try issuing a blocked letter now; answers with the state after that attempt."""
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._pending_retry = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @retry_issue.validator
    def validate_retry_issue(self, request: RetryIssueInput) -> None:
        """The desa's signer role, Sekdes or Kades, on a letter signing refused. Messages are
        read by staff."""
        if request.request_id in self._accepted:
            return
        self._refuse_if_finished()
        if request.actor_desa_code != self._input.desa_code:
            raise ApplicationError(
                "Permohonan ini bukan dari desa Anda.",
                type=ApprovalErrorCode.WRONG_DESA,
                non_retryable=True,
            )
        if (
            self._status != ApplicationStatus.SIGNING_BLOCKED
            or self._issue_request is None
            or self._pending_retry is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Surat ini tidak sedang tertahan di tanda tangan elektronik, atau sedang dicoba "
                "lagi. Muat ulang untuk melihat keadaan terbaru.",
                type=ApprovalErrorCode.NOT_BLOCKED,
                non_retryable=True,
            )
        allowed = list(dict.fromkeys([self._issue_request.signer_role, *_RETRY_ROLES]))
        if request.actor_role not in allowed:
            who = ", ".join(role_label(r) for r in allowed)
            raise ApplicationError(
                f"Hanya {who} yang dapat meminta penerbitan ulang surat ini.",
                type=ApprovalErrorCode.WRONG_ROLE,
                non_retryable=True,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _refuse_if_finished(self) -> None:
        if self._status in _FINISHED_STATUSES:
            raise ApplicationError(
                "Permohonan ini sudah selesai diproses.",
                type=ApprovalErrorCode.FINISHED,
                non_retryable=True,
            )

    def _roles_allowed(self, current: str) -> list[str]:
        """The step's role (or its Plt); after escalation also the supervisor, who may decide
        the step themself. The kabupaten operator follows up but does not decide."""
        allowed = [current]
        if self._escalation_level >= 1:
            supervisor = supervisor_of(current)
            if supervisor != Role.KABUPATEN_OPERATOR:
                allowed.append(supervisor)
        return allowed

    def _decided_as(self, decision: DecisionInput) -> str:
        if decision.actor_role != self._current_role():
            return DecidedAs.SUPERVISOR
        return DecidedAs.PLT if decision.actor_is_plt else ""

    def _issue_input(self, route: Route, final: DecisionInput | None) -> IssueLetterInput:
        """Who signs and how the letter names it: the route's signer, "a.n." the route's
        on-behalf-of role; a supervisor who decided the last step signs as themself; a Plt
        signs as Plt."""
        signer_role = route.signer_role
        on_behalf_of = route.on_behalf_of_role
        if final is not None and self._decided_as(final) == DecidedAs.SUPERVISOR:
            signer_role = final.actor_role
        if on_behalf_of == signer_role:
            on_behalf_of = ""
        return IssueLetterInput(
            application_id=self._input.application_id,
            signer_role=signer_role,
            signer_username=final.actor_username if final else "",
            on_behalf_of_role=on_behalf_of,
            signer_is_plt=final.actor_is_plt if final else False,
        )

    def _current_role(self) -> str | None:
        return self.state().step_role

    def _start_step(self, step: RouteStep) -> None:
        self._overdue = False
        self._escalation_level = 0
        self._assignee = step.role
        if not self._timed:
            return
        assert self._route is not None
        self._step_started = workflow.now()
        self._deadline = add_working_hours(
            self._step_started,
            step.deadline_working_hours,
            self._route.calendar,
            self._days_off,
        )

    def _end_step(self) -> None:
        self._step_index = None
        self._step_started = None
        self._deadline = None
        self._overdue = False
        self._escalation_level = 0
        self._assignee = None

    def _take_decision(self) -> DecisionInput:
        decision = self._pending_decision
        assert decision is not None
        self._pending_decision = None
        self._request_in_progress = decision.request_id
        return decision

    def _take_resubmit(self) -> None:
        request = self._pending_resubmit
        assert request is not None
        self._pending_resubmit = None
        self._request_in_progress = request.request_id

    def _answer_request_in_progress(self) -> None:
        if self._request_in_progress is not None:
            self._results[self._request_in_progress] = self.state()
            self._request_in_progress = None

    async def _cancel(self) -> ApprovalState:
        request = self._pending_cancel
        assert request is not None
        self._pending_cancel = None
        self._request_in_progress = request.request_id
        self._status = ApplicationStatus.CANCELLED
        self._end_step()
        self._show()
        await self._record(APPLICATION_CANCELLED)
        return await self._finish()

    async def _expire(self) -> ApprovalState:
        self._status = ApplicationStatus.EXPIRED
        self._end_step()
        self._show()
        await self._record(APPLICATION_EXPIRED)
        return await self._finish()

    async def _finish(self) -> ApprovalState:
        self._answer_request_in_progress()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _record(
        self,
        event: str,
        decision: DecisionInput | None = None,
        decided_as: str = "",
        escalated_to_role: str = "",
        reason: str = "",
        step: tuple[int, str] | None = None,
    ) -> None:
        """Tell intake (which stores it and publishes the event). The sequence makes a retried
        activity a no-op on intake's side. `step` names the step when it is none of the
        route's (the signing after the last one)."""
        self._sequence += 1
        state = self.state()
        step_index, step_role = step if step is not None else (state.step_index, state.step_role)
        await workflow.execute_activity(
            ACTIVITY_RECORD_PROGRESS,
            ProgressRecord(
                application_id=self._input.application_id,
                desa_code=self._input.desa_code,
                letter_type=self._input.letter_type,
                sequence=self._sequence,
                event=event,
                status=state.status,
                step_index=step_index,
                step_role=step_role,
                actor_role=decision.actor_role if decision else "",
                decision=decision.decision if decision else "",
                reason=decision.reason if decision else reason,
                letter=self._letter,
                deadline=state.deadline,
                escalated_to_role=escalated_to_role,
                escalation_level=state.escalation_level if escalated_to_role else 0,
                decided_as=decided_as,
            ),
            start_to_close_timeout=_SERVICE_CALL_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )

    def _show(self) -> None:
        """Keeps the Temporal UI current: the one-line summary and the search attributes.
        No personal data in either."""
        role = self._current_role()
        if role is not None:
            text = f"Menunggu {role_label(role)}"
            if self._step_started is not None:
                text += f" sejak {wib_datetime(self._step_started)}"
            if self._deadline is not None:
                text += f", tenggat {wib_datetime(self._deadline)}"
            if self._overdue and self._assignee is not None:
                text += f"; terlambat, dieskalasi ke {role_label(self._assignee)}"
        elif self._status == ApplicationStatus.REVISION_REQUESTED:
            text = "Menunggu perbaikan dari pemohon"
            if self._deadline is not None:
                text += f", kedaluwarsa {wib_datetime(self._deadline)}"
        elif self._status == ApplicationStatus.SIGNING_BLOCKED:
            # No reason text here: signing's words may name people; intake's timeline has it.
            text = "Tertahan di tanda tangan elektronik"
            if self._assignee is not None:
                text += f" ({role_label(self._assignee)})"
            if self._blocked_since is not None:
                text += f" sejak {wib_datetime(self._blocked_since)}"
            if self._next_issue_attempt is not None:
                text += f", dicoba lagi {wib_datetime(self._next_issue_attempt)}"
        elif self._status == ApplicationStatus.ISSUED:
            text = "Surat terbit"
        elif self._status == ApplicationStatus.REJECTED:
            text = "Ditolak"
        elif self._status == ApplicationStatus.CANCELLED:
            text = "Dibatalkan oleh pemohon"
        elif self._status == ApplicationStatus.EXPIRED:
            text = "Kedaluwarsa: tidak diperbaiki tepat waktu"
        else:
            text = "Menerbitkan surat"
        workflow.set_current_details(
            f"{self._input.letter_type} desa {self._input.desa_code}: {text}"
        )
        if self._timed:
            self._upsert_attributes(role)

    def _upsert_attributes(self, role: str | None) -> None:
        sent = self._attributes_sent
        candidates: list[SearchAttributeUpdate[Any] | None] = [
            _attribute_update(sent, sa.DESA_CODE, self._input.desa_code),
            _attribute_update(sent, sa.KECAMATAN_CODE, sa.kecamatan_code(self._input.desa_code)),
            _attribute_update(sent, sa.LETTER_TYPE, self._input.letter_type),
            _attribute_update(sent, sa.STATUS, self._status),
            _attribute_update(sent, sa.STEP, role),
            _attribute_update(sent, sa.ASSIGNEE_ROLE, self._assignee),
            _attribute_update(sent, sa.DEADLINE, self._deadline),
            _attribute_update(sent, sa.OVERDUE, self._overdue),
        ]
        updates = [u for u in candidates if u is not None]
        if updates:
            workflow.upsert_search_attributes(updates)
