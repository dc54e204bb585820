"""LetterApprovalWorkflow: one per application. It walks the route its letter type has in the
desa (resolved once at start, so a running letter keeps the route it started with), waits at
each step for the assignee's decision, reminds and escalates as the step's deadlines pass, and
after the last approval has the letter issued: at once by signing, or, when the desa's signer
signs remotely (BSrE), by waiting for the signer's signature like one more step. Returned for
revision, it waits for the resident to resubmit, then expires. See docs/workflow.md.

The parts: `state` (the one state, from which the query, the UI summary and the search
attributes derive), `inbox` (Update bookkeeping), `rules` (the validators' checks), `deadlines`
(the arithmetic of time), `wording` (Indonesian texts); `contract` names its messages for the client.

Workflow code must stay deterministic: no I/O, no clocks but workflow.now(), activities called
by name so this module imports nothing that does I/O.

Versioning. `PATCH_DEADLINES`: letters the skeleton version started have no timers, search
attributes or expiry in their history and keep that behaviour. `PATCH_SIGNING_BLOCKED`: a letter
signing refuses is kept (signing_blocked) and retried instead of failing. The state is shown
(summary and search attributes) whenever the workflow tells intake of a transition, calls
signing or starts to wait: exactly where the earlier versions upserted, so every stored history
(tests/workflows/histories) replays. The remote-signature wait needs no patch: it is taken only
when the route says so, and routes in older histories never do. `PATCH_LOCAL_CALLS`: the route
and the progress records are local activities (run in the worker's workflow task, a marker in
history) instead of activity tasks; letters started before keep their regular activities.
`PATCH_DESA_AND_CAMAT_SIGNATURES`: a BSrE desa in a BSrE kecamatan waits for the desa signer's
signature, then the camat's; letters started before wait for the desa signer's only.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

# The letter's own modules are pure (no I/O, no clocks): passed through the sandbox, they are
# imported once per worker, not again for every letter it starts, which cost the worker
# about a third of its CPU per letter (docs/performance.md, "Cost per letter").
with workflow.unsafe.imports_passed_through():
    # By full name, not `from workflows.approval import deadlines, rules`: the package is the
    # sandbox's own (the workflow module's parent), and a submodule named in a from-list is
    # loaded past the sandbox's importer, so it was executed again for every letter.
    import workflows.approval.deadlines as deadlines
    import workflows.approval.rules as rules
    from common.domain import ApplicationStatus, DecidedAs, Decision, Role, is_kecamatan_role
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
    from workflows.approval import WORKFLOW_NAME
    from workflows.approval.inbox import Inbox, Kind, Request
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
        LetterSignedInput,
        ResubmitInput,
        RetryIssueInput,
        Route,
        WorkingCalendar,
    )
    from workflows.approval.state import AttributesSent, LetterState
    from workflows.approval.working_time import parse_days_off

PATCH_DEADLINES = "deadlines-escalation-expiry-v1"
PATCH_SIGNING_BLOCKED = "signing-blocked-retry-v1"
PATCH_KECAMATAN_CALENDAR = "kecamatan-calendar-v1"
PATCH_LOCAL_CALLS = "local-route-and-progress-v1"
PATCH_CAMAT_SIGNATURE = "camat-remote-signature-v1"
PATCH_DESA_AND_CAMAT_SIGNATURES = "desa-and-camat-remote-signatures-v1"

_SERVICE_CALL_TIMEOUT = timedelta(seconds=30)
_ISSUE_TIMEOUT = timedelta(minutes=2)
# Services may be down for a while (a restart, a deploy): keep retrying, but not in a hot loop.
_SERVICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
# The route and the progress records as local activities: four quick tries in the worker
# (0.5, 1 and 2 s apart, under the threshold, so no timers), each within a short call's time.
# When the service still does not answer, the same call goes on as a regular activity with
# _SERVICE_RETRY: retried by the server until it works, visible as a pending activity (its
# attempts and last failure), and no history growth while a service is down (a local activity
# retried for hours would add timers and workflow tasks to every waiting letter's history).
_LOCAL_CALL_TIMEOUT = timedelta(seconds=25)
_LOCAL_TRIES = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=4,
)
_LOCAL_RETRY_THRESHOLD = timedelta(seconds=10)
_REASON_MAX = 500
# Events that say what happened without a new state to show: the transition after them shows it.
_NOTES = (APPLICATION_DECIDED, APPLICATION_REMINDED, APPLICATION_RESUBMITTED)
_RESIDENT = str(Role.RESIDENT)  # the actor of resubmissions and cancellations

Ready = Callable[[], bool]


@workflow.defn(name=WORKFLOW_NAME)
class LetterApprovalWorkflow:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        self._letter = LetterState(input)
        self._inbox = Inbox()
        self._timed = False  # False for letters the skeleton version started
        self._days_off: frozenset[date] = frozenset()
        self._sequence = 0
        self._sent = AttributesSent()
        self._local = False  # False for letters started before the local calls

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalState:
        self._timed = workflow.patched(PATCH_DEADLINES)
        self._local = workflow.patched(PATCH_LOCAL_CALLS)
        route = await self._resolve_route(input)
        # The last approval of a desa step: its decider signs the letter. Kecamatan steps
        # (after the desa's) add the camat's "mengetahui", never the desa's signer.
        last: tuple[DecisionInput, DecidedAs] | None = None
        index = 0
        while index < len(route.steps):
            decision = await self._step(index)
            if decision is None:
                return await self._cancel()
            decided_as = rules.decided_as(self._letter, decision)
            if decision.decision == Decision.APPROVE:
                await self._record(APPLICATION_DECIDED, decision, decided_as)
                if not is_kecamatan_role(route.steps[index].role):
                    last = (decision, decided_as)
                index += 1
            elif decision.decision == Decision.REVISE:
                if (ended := await self._revise(decision, decided_as)) is not None:
                    return ended
            else:
                return await self._end(ApplicationStatus.REJECTED, decision, decided_as)
        self._letter.issue_request = _issue_request(input, route, last)
        self._letter.end_step()
        if route.remote_signature:
            if route.camat_remote_signature and workflow.patched(PATCH_DESA_AND_CAMAT_SIGNATURES):
                return await self._issued(await self._desa_then_camat_signature())
            return await self._issued(await self._await_signature())
        if route.camat_remote_signature and workflow.patched(PATCH_CAMAT_SIGNATURE):
            # The camat signs "mengetahui" through BSrE: verification has signing certify and
            # approve the letter with the camat's passphrase, then reports it signed.
            return await self._issued(await self._await_signature(Role.CAMAT))
        self._inbox.answer(self._letter.view())  # the last approver, before signing's wait
        return await self._issued(await self._issue(self._letter.issue_request))

    # -- the process -----------------------------------------------------------------------

    async def _resolve_route(self, input: ApprovalInput) -> Route:
        route: Route = await self._call(ACTIVITY_RESOLVE_ROUTE, input, Route)
        self._letter.route = route
        self._days_off = parse_days_off([*route.days_off, *route.calendar.local_days_off])
        return route

    async def _step(self, index: int) -> DecisionInput | None:
        """Assigns the route's step `index` and waits for its decision (None: cancelled)."""
        assert self._letter.route is not None
        hours = self._letter.route.steps[index].deadline_working_hours
        await self._assign(index, hours, lambda: self._inbox.has_any(Kind.DECIDE, Kind.CANCEL))
        if self._inbox.has(Kind.CANCEL):
            return None
        return self._inbox.take(Kind.DECIDE, DecisionInput)

    async def _revise(self, decision: DecisionInput, decided_as: str) -> ApprovalState | None:
        """Back to the resident: None once resubmitted (the step is assigned again), else the
        end (cancelled, or expired when the resident did not resubmit in time)."""
        letter = self._letter
        assert letter.route is not None
        expiry = (
            deadlines.resubmit_expiry(workflow.now(), letter.route.resubmit_days)
            if self._timed
            else None
        )
        letter.return_to_resident(expiry)
        await self._record(APPLICATION_REVISION_REQUESTED, decision, decided_as)
        self._inbox.answer(letter.view())

        def ready() -> bool:
            return self._inbox.has_any(Kind.RESUBMIT, Kind.CANCEL)

        if expiry is not None and not await self._wait(ready, expiry, "resubmit-expiry"):
            return await self._end(ApplicationStatus.EXPIRED)
        await self._wait(ready)
        if self._inbox.has(Kind.CANCEL):
            return await self._cancel()
        self._inbox.take(Kind.RESUBMIT, ResubmitInput)
        letter.status = ApplicationStatus.IN_REVIEW
        await self._record(APPLICATION_RESUBMITTED)
        return None

    async def _await_signature(self, signer: str | None = None, after: int = 0) -> LetterInfo:
        """The remote signer's step: assigned, reminded and escalated like a route step, until
        verification reports the letter signed (it holds the passphrase; we never do). The
        signer is the desa's (the issue request's role), or `signer` (the camat). Its index is
        one past the route's last step, `after` more for a second signature (its own task)."""
        assert self._letter.route is not None
        self._letter.status = ApplicationStatus.AWAITING_SIGNATURE
        self._letter.awaited_signer = signer
        await self._assign(
            len(self._letter.route.steps) + after,
            deadlines.SIGNATURE_WORKING_HOURS,
            lambda: self._inbox.has(Kind.LETTER_SIGNED),
        )
        return self._inbox.take(Kind.LETTER_SIGNED, LetterSignedInput).letter

    async def _desa_then_camat_signature(self) -> LetterInfo:
        """A BSrE desa in a BSrE kecamatan: two people's passphrases, so two signature steps.
        The desa signer's certifies the letter (its number, the camat's field reserved:
        `camat_signs_later` tells signing not to wait for the camat's passphrase); then the
        camat's, in the kecamatan's calendar and inbox, adds the "mengetahui" and the register
        number. The letter is issued once both are on it (the camat's report)."""
        assert self._letter.issue_request is not None
        self._letter.issue_request = replace(self._letter.issue_request, camat_signs_later=True)
        await self._await_signature()
        return await self._await_signature(Role.CAMAT, after=1)

    async def _issue(self, request: IssueLetterInput) -> LetterInfo:
        """Has signing issue the letter; while signing refuses it, keeps it (signing_blocked)
        and tries again on a timer or when staff ask."""
        letter = self._letter
        failures = 0
        while True:
            self._publish()
            try:
                issued: LetterInfo = await workflow.execute_activity(
                    ACTIVITY_ISSUE_LETTER,
                    request,
                    result_type=LetterInfo,
                    start_to_close_timeout=_ISSUE_TIMEOUT,
                    retry_policy=_SERVICE_RETRY,
                )
            except ActivityError as failure:
                reason = _refusal_reason(failure)
                if reason is None or not workflow.patched(PATCH_SIGNING_BLOCKED):
                    raise
                failures += 1
                if letter.block(request.signer_role, reason, workflow.now()):
                    await self._record(
                        APPLICATION_SIGNING_BLOCKED,
                        reason=letter.blocked_reason,
                        step=letter.signing_step(),
                    )
            else:
                letter.blocked_reason, letter.next_issue_attempt = "", None
                if self._inbox.has(Kind.RETRY_ISSUE):  # asked for while the attempt ran
                    self._inbox.take(Kind.RETRY_ISSUE, RetryIssueInput)
                return issued
            assert letter.blocked_since is not None
            retry_at = workflow.now() + deadlines.issue_retry_delay(
                failures, workflow.now() - letter.blocked_since
            )
            letter.next_issue_attempt = retry_at
            self._inbox.answer(letter.view())  # a staff retry that failed again: still blocked
            if await self._wait(lambda: self._inbox.has(Kind.RETRY_ISSUE), retry_at, "retry-issue"):
                self._inbox.take(Kind.RETRY_ISSUE, RetryIssueInput)
            letter.next_issue_attempt = None

    async def _issued(self, issued: LetterInfo) -> ApprovalState:
        self._letter.letter = issued
        return await self._end(ApplicationStatus.ISSUED, event=LETTER_ISSUED)

    async def _cancel(self) -> ApprovalState:
        self._inbox.take(Kind.CANCEL, CancelInput)
        return await self._end(ApplicationStatus.CANCELLED)

    async def _end(
        self,
        status: ApplicationStatus,
        decision: DecisionInput | None = None,
        decided_as: str = "",
        event: str = "",
    ) -> ApprovalState:
        self._letter.status = status
        self._letter.end_step()
        await self._record(event or _FINAL_EVENTS[status], decision, decided_as)
        self._inbox.answer(self._letter.view())
        await self._wait(workflow.all_handlers_finished)
        return self._letter.view()

    # -- time ------------------------------------------------------------------------------

    async def _assign(self, index: int, hours: float, ready: Ready) -> None:
        """Assigns step `index` (a route step, or the signature after the last), tells intake,
        answers the request that led here and waits until `ready`, reminding and escalating
        as the step's deadlines pass (letters without the deadlines patch only wait)."""
        letter = self._letter
        assert letter.route is not None
        calendar, days_off = self._calendar_of(index)
        now = workflow.now() if self._timed else None
        due = deadlines.step_deadline(now, hours, calendar, days_off) if now else None
        letter.start_step(index, now, due)
        await self._record(APPLICATION_STEP_ASSIGNED)
        self._inbox.answer(letter.view())
        if now is not None and due is not None:
            for when, timer in deadlines.step_timers(now, due, hours, calendar, days_off):
                if ready():
                    break
                if not await self._wait(ready, when, timer):
                    await self._on_timer(timer)
        await self._wait(ready)

    def _calendar_of(self, index: int) -> tuple[WorkingCalendar, frozenset[date]]:
        """The calendar step `index`'s deadline counts in: the kecamatan's for a kecamatan
        step when the route carries one (routes resolved before it existed carry none), else
        the desa's."""
        route = self._letter.route
        assert route is not None
        kecamatan = route.kecamatan_calendar
        # One past the last step: the remote signer's signature (the camat's counts in the
        # kecamatan's calendar too; only letters past PATCH_CAMAT_SIGNATURE get here with one).
        role = route.steps[index].role if index < len(route.steps) else self._letter.awaited_signer
        if (
            kecamatan is not None
            and role is not None
            and is_kecamatan_role(role)
            and workflow.patched(PATCH_KECAMATAN_CALENDAR)
        ):
            return kecamatan, parse_days_off([*route.days_off, *kecamatan.local_days_off])
        return route.calendar, self._days_off

    async def _on_timer(self, timer: deadlines.Timer) -> None:
        if timer == deadlines.Timer.REMIND:
            await self._record(APPLICATION_REMINDED)
            return
        told = self._letter.escalate()
        await self._record(APPLICATION_ESCALATED, escalated_to_role=told)

    async def _wait(self, ready: Ready, until: datetime | None = None, summary: str = "") -> bool:
        """Shows the state, then waits for `ready` (until `until`, when given): True when ready."""
        self._publish()
        if until is None:
            await workflow.wait_condition(ready)
            return True
        remaining = until - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(ready, timeout=remaining, timeout_summary=summary)
            except TimeoutError:
                pass
        return ready()

    # -- telling others --------------------------------------------------------------------

    async def _record(
        self,
        event: str,
        decision: DecisionInput | None = None,
        decided_as: str = "",
        escalated_to_role: str = "",
        reason: str = "",
        step: tuple[int, str] | None = None,
    ) -> None:
        """Tell intake (which stores it and publishes the event); the sequence makes a retried
        activity a no-op there."""
        if event not in _NOTES:
            self._publish()
        self._sequence += 1
        record = self._letter.progress(
            self._sequence, event, decision, decided_as, escalated_to_role, reason, step
        )
        await self._call(ACTIVITY_RECORD_PROGRESS, record, None)

    async def _call(self, activity: str, arg: object, result_type: type | None) -> Any:
        """A service call that must succeed (retried until it does, unless the service refuses
        it for good): a local activity first (letters with PATCH_LOCAL_CALLS), which saves the
        server an activity task and the letter a workflow task per call; when the service does
        not answer its few tries, a regular activity that the server retries."""
        if self._local:
            try:
                return await workflow.execute_local_activity(
                    activity,
                    arg,
                    result_type=result_type,
                    start_to_close_timeout=_LOCAL_CALL_TIMEOUT,
                    retry_policy=_LOCAL_TRIES,
                    local_retry_threshold=_LOCAL_RETRY_THRESHOLD,
                )
            except (ActivityError, ApplicationError) as failure:  # core may give either
                cause = failure.cause if isinstance(failure, ActivityError) else failure
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise  # refused for good (e.g. no route): as the regular activity would
        return await workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=_SERVICE_CALL_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )

    def _publish(self) -> None:
        """The Temporal UI's summary and search attributes, derived from the state (only the
        attributes that changed are sent; letters without the deadlines patch have none)."""
        workflow.set_current_details(self._letter.summary())
        if self._timed and (changes := self._sent.changes(self._letter.search_attributes())):
            workflow.upsert_search_attributes(changes)

    # -- messages --------------------------------------------------------------------------

    async def _receive(self, kind: Kind, request: Request, actor: str) -> ApprovalState:
        """Every Update: accepted once per request id, answered once the process has acted on
        it (a repeat by the same actor gets the same answer)."""
        self._inbox.accept(kind, request, actor)
        await workflow.wait_condition(lambda: self._inbox.answered(request.request_id))
        return self._inbox.answers[request.request_id]

    @workflow.query
    def state(self) -> ApprovalState:
        return self._letter.view()

    @workflow.query
    def issue_request(self) -> IssueLetterInput | None:
        return self._letter.issue_request

    @workflow.update
    async def decide(self, decision: DecisionInput) -> ApprovalState:
        return await self._receive(Kind.DECIDE, decision, decision.actor_username)

    @decide.validator
    def validate_decide(self, decision: DecisionInput) -> None:
        if not rules.check_request(self._inbox, decision.request_id, decision.actor_username):
            rules.check_decision(self._letter, self._inbox, decision)

    @workflow.update
    async def resubmit(self, request: ResubmitInput) -> ApprovalState:
        return await self._receive(Kind.RESUBMIT, request, _RESIDENT)

    @resubmit.validator
    def validate_resubmit(self, request: ResubmitInput) -> None:
        if not rules.check_request(self._inbox, request.request_id, _RESIDENT):
            rules.check_resubmit(self._letter, self._inbox)

    @workflow.update
    async def cancel(self, request: CancelInput) -> ApprovalState:
        return await self._receive(Kind.CANCEL, request, _RESIDENT)

    @cancel.validator
    def validate_cancel(self, request: CancelInput) -> None:
        if not rules.check_request(self._inbox, request.request_id, _RESIDENT):
            rules.check_cancel(self._letter, self._inbox)

    @workflow.update
    async def retry_issue(self, request: RetryIssueInput) -> ApprovalState:
        return await self._receive(Kind.RETRY_ISSUE, request, request.actor_username)

    @retry_issue.validator
    def validate_retry_issue(self, request: RetryIssueInput) -> None:
        if not rules.check_request(self._inbox, request.request_id, request.actor_username):
            rules.check_retry_issue(self._letter, self._inbox, request)

    @workflow.update
    async def letter_signed(self, signed: LetterSignedInput) -> ApprovalState:
        return await self._receive(Kind.LETTER_SIGNED, signed, signed.actor_username)

    @letter_signed.validator
    def validate_letter_signed(self, signed: LetterSignedInput) -> None:
        if not rules.check_request(self._inbox, signed.request_id, signed.actor_username):
            rules.check_letter_signed(self._letter, self._inbox, signed)


_FINAL_EVENTS = {
    ApplicationStatus.REJECTED: APPLICATION_REJECTED,
    ApplicationStatus.CANCELLED: APPLICATION_CANCELLED,
    ApplicationStatus.EXPIRED: APPLICATION_EXPIRED,
    ApplicationStatus.ISSUED: LETTER_ISSUED,
}


def _issue_request(
    input: ApprovalInput, route: Route, last: tuple[DecisionInput, DecidedAs] | None
) -> IssueLetterInput:
    """Who signs and how the letter names it: the route's signer, "a.n." the route's
    on-behalf-of role; a supervisor who decided the last step signs as themself; a Plt signs
    as Plt."""
    decision, decided_as = last if last else (None, DecidedAs.OWN_ROLE)
    signer_role = route.signer_role
    if decision is not None and decided_as == DecidedAs.SUPERVISOR:
        signer_role = decision.actor_role
    on_behalf_of = "" if route.on_behalf_of_role == signer_role else route.on_behalf_of_role
    return IssueLetterInput(
        application_id=input.application_id,
        signer_role=signer_role,
        signer_username=decision.actor_username if decision else "",
        on_behalf_of_role=on_behalf_of,
        signer_is_plt=decision.actor_is_plt if decision else False,
        # The route goes through the kecamatan: the camat adds "mengetahui" to the letter.
        kecamatan_code=input.desa_code.rsplit(".", 1)[0]
        if any(is_kecamatan_role(s.role) for s in route.steps)
        else "",
    )


def _refusal_reason(failure: ActivityError) -> str | None:
    """Why signing refused the letter for good: its own words (the activity passes them as the
    error's details), else the error's message. None when the activity failed otherwise."""
    error = failure.cause
    if not isinstance(error, ApplicationError):
        return None
    details = error.details
    reason = details[0] if details and isinstance(details[0], str) and details[0] else ""
    return (reason or error.message)[:_REASON_MAX]
