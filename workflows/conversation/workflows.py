"""WhatsAppConversation: one per number writing to the desa's WhatsApp Business number.

Messages arrive as signals (the webhook signals-with-start, so the first message starts it);
each is handled once, in arrival order: a redelivered message id is skipped. The chat's state
(who writes, the letter being requested, answers, staged syarat) lives here, durable across any
restart. A letter request left halfway for `expire_after_seconds` is dropped with a message; a
quiet chat then ends (the next message starts a new run, which looks the number up again).

Deterministic: activities do every lookup and send, called by name; no clock but workflow.now().
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.conversation import (
    ACTIVITY_CANCEL_APPLICATION,
    ACTIVITY_CANCELLABLE,
    ACTIVITY_CHECK_FIELD,
    ACTIVITY_CORRECTABLE,
    ACTIVITY_DROP_MEDIA,
    ACTIVITY_EXPECT_SECRET,
    ACTIVITY_FETCH_MEDIA,
    ACTIVITY_IDENTIFY,
    ACTIVITY_KEPT,
    ACTIVITY_LETTER_TYPES,
    ACTIVITY_LINK,
    ACTIVITY_REGISTER_SUMMARY,
    ACTIVITY_REQUEST_CORRECTION,
    ACTIVITY_REVISABLE,
    ACTIVITY_REVISE,
    ACTIVITY_SEND,
    ACTIVITY_STATUS,
    ACTIVITY_SUBMIT,
    ACTIVITY_TO_OFFICE,
    QUERY_STATE,
    SIGNAL_INBOUND,
    SIGNAL_OFFICE_ANSWER,
    WORKFLOW_NAME,
)
from workflows.conversation import wording as w
from workflows.conversation.models import (
    CHOICE,
    KEPT,
    MEDIA,
    REPLY_BUTTONS,
    REPLY_LIST,
    SKIP,
    TEXT,
    UNSUPPORTED,
    AppRef,
    CancelRequest,
    ChatState,
    ConversationInput,
    CorrectionRequest,
    ExpectSecret,
    FieldAnswer,
    FieldCheck,
    Holder,
    Inbound,
    LetterForm,
    LinkRequest,
    LinkResult,
    MediaRequest,
    MediaResult,
    OfficeMessage,
    Option,
    RegisterRequest,
    RegisterSummary,
    Reply,
    Requirement,
    Revisable,
    ReviseRequest,
    Submission,
    Submitted,
)

# Stages. "Halfway" ones hold a letter request being filled: they expire with a message.
NEW = "new"
WHO = "who"
MENU = "menu"
TYPE = "type"
DATA = "data"
PURPOSE = "purpose"
QUESTION = "question"
SYARAT = "syarat"
OPTIONAL = "optional"  # an optional syarat: a file, or "lewati"
CONFIRM = "confirm"
CANCEL = "cancel"
OFFICE = "office"
CANCEL_PICK = "cancel_pick"  # which submitted application to withdraw
CANCEL_SUBMITTED = "cancel_submitted"  # and the confirmation
LINK = "link"  # an unknown number answers the family-knowledge check, one answer at a time
REVISE = "revise"  # a file sent after a revision request: which syarat it replaces
# "Ada yang salah": which register field, its right value, confirm, then go on or stop.
CORRECT_FIELD = "correct_field"
CORRECT_VALUE = "correct_value"
CORRECT_CONFIRM = "correct_confirm"
CORRECT_NEXT = "correct_next"
CORRECTING = frozenset({CORRECT_FIELD, CORRECT_VALUE, CORRECT_CONFIRM, CORRECT_NEXT})
HALFWAY = frozenset({TYPE, DATA, PURPOSE, QUESTION, SYARAT, OPTIONAL, CONFIRM, CANCEL}) | CORRECTING

COMMANDS = {
    "bantuan": "bantuan",
    "help": "bantuan",
    "menu": "menu",
    "halo": "menu",
    "status": "status",
    "batal": "batal",
    "petugas": "petugas",
    "surat": "surat",
}
# Conversations running before a file could answer a revision replay as they ran.
PATCH_REVISION_FILE = "chat-revision-by-file"
# Conversations that sent "Ada yang salah" to the office before the chat could file a register
# correction replay as they ran.
PATCH_REGISTER_CORRECTION = "chat-register-correction"
# Conversations that went from the last required syarat straight to the summary replay as they
# ran; from here on each optional syarat is offered first.
PATCH_OPTIONAL_SYARAT = "chat-optional-syarat"
SEEN_KEPT = 200  # message ids remembered against redelivery (Meta redelivers within hours)
PURPOSE_MAX_LENGTH = 200
MAX_MEDIA_MB = 10
STALE = "\x00stale"

_TIMEOUT = timedelta(seconds=30)
# Intake, verification or the Cloud API may be down for a while: retry, then give up on this
# message (the workflow stays; the resident can write again).
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


@workflow.defn(name=WORKFLOW_NAME)
class ConversationWorkflow:
    def __init__(self) -> None:
        self._queue: list[Inbound] = []
        self._office: list[str] = []
        self._s = ChatState()
        self._key = ""

    @workflow.signal(name=SIGNAL_INBOUND)
    def inbound(self, message: Inbound) -> None:
        self._queue.append(message)

    @workflow.signal(name=SIGNAL_OFFICE_ANSWER)
    def office_answer(self, text: str) -> None:
        self._office.append(text)

    @workflow.query(name=QUERY_STATE)
    def state(self) -> ChatState:
        return self._s

    @workflow.run
    async def run(self, input: ConversationInput) -> ChatState:
        self._key = input.key
        if input.state is not None:
            self._s = input.state
        quiet = timedelta(seconds=input.expire_after_seconds)
        while True:
            try:
                await workflow.wait_condition(
                    lambda: bool(self._queue or self._office), timeout=quiet
                )
            except TimeoutError:
                if self._queue or self._office:
                    continue
                if self._s.stage in HALFWAY:
                    self._reset(MENU)
                    days = str(max(1, input.expire_after_seconds // 86400))
                    await self._send(
                        w.EXPIRED.format(days=days), template="chat_expired", params=[days]
                    )
                    continue
                return self._s
            while self._office:
                text = self._office.pop(0)
                await self._send(
                    w.OFFICE_ANSWER.format(text=text), template="chat_office_answer", params=[text]
                )
            while self._queue:
                message = self._queue.pop(0)
                if message.message_id in self._s.seen:
                    continue  # the Cloud API redelivered it: handled already
                self._s.seen = [*self._s.seen, message.message_id][-SEEN_KEPT:]
                self._s.last_at = message.sent_at
                try:
                    await self._handle(message)
                except ActivityError:
                    # A peer stayed down through every retry: this message is not answered,
                    # the chat stays where it was, and the resident can write again.
                    workflow.logger.warning("a chat step failed after its retries")
            if (
                workflow.info().is_continue_as_new_suggested()
                and not self._queue
                and not self._office
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    ConversationInput(
                        key=self._key,
                        expire_after_seconds=input.expire_after_seconds,
                        state=self._s,
                    )
                )

    # --- one message -----------------------------------------------------------------------

    async def _handle(self, m: Inbound) -> None:
        s = self._s
        if m.kind == UNSUPPORTED:
            await self._send(w.UNSUPPORTED)
            return
        if s.stage == LINK:
            await self._on_link(m)
            return
        if not s.resident_id and s.stage != WHO:
            if not await self._identify():
                return
            command = _command(m)
            if command and command != "menu":
                await self._command(command, m)
            elif m.kind == MEDIA and workflow.patched(PATCH_REVISION_FILE):
                await self._on_menu(m)  # perhaps the corrected document a revision asked for
            else:
                await self._menu()
            return
        command = _command(m)
        if command and (s.stage != WHO or command == "bantuan"):
            await self._command(command, m)
            return
        handler = {
            WHO: self._on_who,
            MENU: self._on_menu,
            TYPE: self._on_type,
            DATA: self._on_data,
            PURPOSE: self._on_purpose,
            QUESTION: self._on_question,
            SYARAT: self._on_syarat,
            OPTIONAL: self._on_optional,
            CONFIRM: self._on_confirm,
            CANCEL: self._on_cancel,
            CANCEL_PICK: self._on_cancel_pick,
            CANCEL_SUBMITTED: self._on_cancel_submitted,
            OFFICE: self._on_office,
            REVISE: self._on_revise,
            CORRECT_FIELD: self._on_correct_field,
            CORRECT_VALUE: self._on_correct_value,
            CORRECT_CONFIRM: self._on_correct_confirm,
            CORRECT_NEXT: self._on_correct_next,
        }.get(s.stage, self._on_menu)
        await handler(m)

    async def _identify(self) -> bool:
        holders: list[Holder] = await workflow.execute_activity(
            ACTIVITY_IDENTIFY,
            self._key,
            result_type=list[Holder],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if not holders:
            # Linking once, by what only the family knows (the portal's first sign-in check).
            self._s.stage, self._s.link_refs = LINK, []
            await self._expect_secret(True)
            await self._send(w.UNKNOWN_NUMBER)
            return False
        if len(holders) == 1:
            self._choose(holders[0])
            return True
        self._s.holders = holders
        self._s.stage = WHO
        await self._ask(
            w.WHO,
            [Option(str(i), h.name[:24]) for i, h in enumerate(holders[:10])],
            kind=REPLY_LIST,
            button=w.WHO_BUTTON,
        )
        return False

    async def _expect_secret(self, on: bool) -> None:
        await workflow.execute_activity(
            ACTIVITY_EXPECT_SECRET,
            ExpectSecret(key=self._key, on=on),
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )

    async def _on_link(self, m: Inbound) -> None:
        s = self._s
        if _command(m) == "batal":
            s.stage, s.link_refs = NEW, []
            await self._expect_secret(False)
            await self._send(w.LINK_CANCELLED)
            return
        if not m.secret_ref:
            await self._send(w.LINK_TEXT)
            return
        s.link_refs = [*s.link_refs, m.secret_ref]
        if len(s.link_refs) == 1:
            await self._send(w.LINK_KK)
            return
        if len(s.link_refs) == 2:
            await self._send(w.LINK_MOTHER)
            return
        linked: LinkResult = await workflow.execute_activity(
            ACTIVITY_LINK,
            LinkRequest(key=self._key, refs=s.link_refs),
            result_type=LinkResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        s.stage, s.link_refs = NEW, []
        if linked.holder is None:
            await self._send(w.LINK_LOCKED if linked.locked else w.LINK_FAILED)
            return
        self._choose(linked.holder)
        await self._send(w.LINK_DONE)
        await self._menu()

    def _choose(self, holder: Holder) -> None:
        self._s.resident_id = holder.resident_id
        self._s.resident_name = holder.name
        self._s.desa_code = holder.desa_code
        self._s.holders = []
        self._s.stage = MENU

    async def _command(self, command: str, m: Inbound) -> None:
        s = self._s
        if command == "bantuan":
            await self._send(w.HELP)
        elif command == "menu":
            if s.stage in HALFWAY:
                await self._ask_cancel()
            else:
                await self._menu()
        elif command == "status":
            text: str = await workflow.execute_activity(
                ACTIVITY_STATUS,
                RegisterRequest(key=self._key, resident_id=s.resident_id),
                result_type=str,
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
            await self._send(text)
        elif command == "batal":
            if s.stage in HALFWAY and s.stage != CANCEL:
                await self._ask_cancel()
            else:
                await self._ask_which_to_cancel()
        elif command == "petugas":
            rest = m.text.strip()[len("petugas") :].strip(" :,-")
            if rest:
                await self._to_office(rest)
            else:
                if s.stage not in HALFWAY:
                    s.stage = OFFICE
                await self._send(w.OFFICE_ASK)
        elif command == "surat":
            if s.stage in HALFWAY:
                await self._ask_cancel()
            else:
                await self._types()

    async def _menu(self) -> None:
        self._s.stage = MENU
        await self._ask(
            w.MENU.format(name=_first_name(self._s.resident_name)),
            [
                Option("surat", w.MENU_SURAT),
                Option("status", w.MENU_STATUS),
                Option("bantuan", w.MENU_HELP),
            ],
        )

    async def _on_who(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        self._choose(self._s.holders[int(picked)])
        await self._menu()

    async def _on_menu(self, m: Inbound) -> None:
        if m.kind == MEDIA:
            if workflow.patched(PATCH_REVISION_FILE):
                await self._revision_file(m)
            else:  # a conversation that was already running keeps its old answer on replay
                await self._send(w.MEDIA_NOT_EXPECTED)
            return
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        await self._command(picked, m)

    async def _types(self) -> None:
        s = self._s
        s.offered = await workflow.execute_activity(
            ACTIVITY_LETTER_TYPES,
            s.desa_code,
            result_type=list[LetterForm],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if not s.offered:
            await self._send(w.NO_TYPES)
            s.stage = MENU
            return
        s.stage = TYPE
        await self._ask(
            w.TYPES,
            [Option(f.code, f.code, f.name[:72]) for f in s.offered[:10]],
            kind=REPLY_LIST,
            button=w.TYPES_BUTTON,
        )

    async def _on_type(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        s = self._s
        chosen = next(f for f in s.offered if f.code == picked)
        s.answers, s.attachments, s.question, s.requirement, s.purpose = {}, {}, 0, 0, ""
        summary: RegisterSummary = await workflow.execute_activity(
            ACTIVITY_REGISTER_SUMMARY,
            RegisterRequest(key=self._key, resident_id=s.resident_id),
            result_type=RegisterSummary,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        # What the register fills is confirmed here, not asked again.
        s.letter = LetterForm(
            code=chosen.code,
            name=chosen.name,
            questions=[q for q in chosen.questions if q.name not in summary.filled],
            requirements=chosen.requirements,
            optional=chosen.optional,
            originals=chosen.originals,
            max_scans=chosen.max_scans,
        )
        s.stage = DATA
        await self._ask(
            w.DATA.format(summary=summary.text),
            [Option("ok", w.DATA_OK), Option("wrong", w.DATA_WRONG)],
        )

    async def _on_data(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        if picked == "wrong":
            if workflow.patched(PATCH_REGISTER_CORRECTION):
                await self._ask_correct_field()
                return
            self._reset(MENU)
            await self._send(w.DATA_WRONG_ANSWER)
            return
        await self._to_purpose()

    async def _to_purpose(self) -> None:
        self._s.stage = PURPOSE
        self._s.kept = await workflow.execute_activity(
            ACTIVITY_KEPT,
            RegisterRequest(key=self._key, resident_id=self._s.resident_id),
            result_type=list[str],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        await self._send(w.PURPOSE)

    # --- "Ada yang salah": a register correction request, as the portal files it --------------

    async def _ask_correct_field(self) -> None:
        s = self._s
        fields: list[Option] = await workflow.execute_activity(
            ACTIVITY_CORRECTABLE,
            RegisterRequest(key=self._key, resident_id=s.resident_id),
            result_type=list[Option],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        s.correct_field = s.correct_label = s.correct_value = s.correct_current = ""
        s.stage = CORRECT_FIELD
        await self._ask(w.CORRECT_WHICH, fields[:10], kind=REPLY_LIST, button=w.CORRECT_BUTTON)

    async def _on_correct_field(self, m: Inbound) -> None:
        s = self._s
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        chosen = next(o for o in s.options if o.id == picked)
        s.correct_field, s.correct_label = chosen.id, chosen.title
        # The value held now (the row's description), shown again in the summary.
        s.correct_value, s.correct_current = "", chosen.description
        s.stage = CORRECT_VALUE
        await self._send(w.CORRECT_VALUE.format(label=chosen.title.lower()))

    async def _on_correct_value(self, m: Inbound) -> None:
        s = self._s
        text = " ".join(m.text.split())
        if m.kind != TEXT or not text:
            await self._send(w.CORRECT_VALUE_EMPTY)
            return
        if len(text) > PURPOSE_MAX_LENGTH:
            await self._send(w.CORRECT_VALUE_TOO_LONG.format(limit=PURPOSE_MAX_LENGTH))
            return
        s.correct_value = text
        s.stage = CORRECT_CONFIRM
        await self._ask(
            w.CORRECT_CONFIRM.format(
                label=s.correct_label, current=s.correct_current or "-", value=text
            ),
            [Option("send", w.CORRECT_SEND), Option("drop", w.CORRECT_DROP)],
        )

    async def _on_correct_confirm(self, m: Inbound) -> None:
        s = self._s
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        if picked == "send":
            problem: str = await workflow.execute_activity(
                ACTIVITY_REQUEST_CORRECTION,
                CorrectionRequest(
                    key=self._key,
                    resident_id=s.resident_id,
                    field=s.correct_field,
                    value=s.correct_value,
                ),
                result_type=str,
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
            await self._send(problem or w.CORRECT_SENT)
        else:
            await self._send(w.CORRECT_DROPPED)
        s.correct_field = s.correct_label = s.correct_value = s.correct_current = ""
        s.stage = CORRECT_NEXT
        await self._ask(
            w.CORRECT_NEXT,
            [Option("continue", w.CORRECT_CONTINUE), Option("stop", w.CORRECT_STOP)],
        )

    async def _on_correct_next(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        if picked == "continue":
            await self._to_purpose()
            return
        self._reset(MENU)
        await self._send(w.CORRECT_STOPPED)

    async def _on_purpose(self, m: Inbound) -> None:
        text = " ".join(m.text.split())
        if m.kind != TEXT or not text:
            await self._send(f"{w.PURPOSE_EMPTY} {w.PURPOSE}")
            return
        if len(text) > PURPOSE_MAX_LENGTH:
            await self._send(w.PURPOSE_TOO_LONG.format(limit=PURPOSE_MAX_LENGTH))
            return
        self._s.purpose = text
        await self._next_question()

    async def _next_question(self) -> None:
        s = self._s
        assert s.letter is not None
        if s.question >= len(s.letter.questions):
            s.stage = SYARAT
            await self._next_syarat()
            return
        s.stage = QUESTION
        q = s.letter.questions[s.question]
        text = w.QUESTION.format(index=s.question + 1, total=len(s.letter.questions), label=q.label)
        if q.kind == "date":
            text += f"\n{w.QUESTION_DATE}"
        if not q.required:
            text += f"\n{w.QUESTION_OPTIONAL}"
        if q.kind == "choice" and q.choices:
            options = [Option(c, c[:24]) for c in q.choices[:10]]
            await self._ask(
                text,
                options,
                kind=REPLY_BUTTONS if len(options) <= 3 else REPLY_LIST,
                button="Pilih",
            )
        else:
            await self._send(text)

    async def _on_question(self, m: Inbound) -> None:
        s = self._s
        assert s.letter is not None
        q = s.letter.questions[s.question]
        if m.kind == CHOICE or (q.kind == "choice" and m.text.strip().isdigit()):
            picked = self._pick(m)
            if picked is None or picked == STALE:
                await self._refuse(picked)
                return
            value = picked
        elif m.kind == TEXT:
            value = " ".join(m.text.split())
        else:
            await self._send(w.EXPECTED_CHOICE if q.kind == "choice" else w.UNSUPPORTED)
            return
        if not q.required and value.lower() in w.SKIP_WORDS:
            value = ""
        if not value:
            if q.required:
                await self._send(w.REQUIRED.format(label=q.label))
                return
        else:
            checked: FieldAnswer = await workflow.execute_activity(
                ACTIVITY_CHECK_FIELD,
                FieldCheck(letter_type=s.letter.code, name=q.name, value=value),
                result_type=FieldAnswer,
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
            if checked.error:
                await self._send(checked.error)
                return
            s.answers[q.name] = checked.value
        s.question += 1
        await self._next_question()

    async def _next_syarat(self) -> None:
        s = self._s
        assert s.letter is not None
        if s.requirement >= len(s.letter.requirements):
            # Only a letter form read since optional syarat came has any: an older history
            # never reaches the patch check.
            if self._optional_offered() is not None and workflow.patched(PATCH_OPTIONAL_SYARAT):
                await self._next_optional()
                return
            await self._confirm()
            return
        r = s.letter.requirements[s.requirement]
        text = w.SYARAT.format(
            name=r.name, index=s.requirement + 1, total=len(s.letter.requirements)
        )
        if r.code in s.kept:
            await self._ask(
                f"{text}\n{w.SYARAT_KEPT.format(name=r.name)}", [Option(KEPT, w.USE_KEPT)]
            )
        else:
            s.options = []
            await self._send(text)

    async def _on_syarat(self, m: Inbound) -> None:
        s = self._s
        assert s.letter is not None
        r = s.letter.requirements[s.requirement]
        if r.code in s.kept and m.kind != MEDIA:
            picked = self._pick(m)
            if picked == KEPT:
                s.attachments[r.code] = KEPT
                s.requirement += 1
                await self._next_syarat()
                return
            if picked == STALE:
                await self._refuse(picked)
                return
        if m.kind != MEDIA:
            await self._send(w.SYARAT_TEXT.format(name=r.name))
            return
        ref = await self._fetch_media(m)
        if ref is None:
            return
        s.attachments[r.code] = ref
        s.requirement += 1
        await self._next_syarat()

    def _optional_offered(self) -> Requirement | None:
        """The optional syarat to offer now: the next one, while the filing has room for
        another scan (intake's limit counts the required ones, kept or sent; as the walk-in
        page does); None when none is left or there is no room."""
        s = self._s
        assert s.letter is not None
        index = s.requirement - len(s.letter.requirements)
        if not 0 <= index < len(s.letter.optional) or len(s.attachments) >= s.letter.max_scans:
            return None
        return s.letter.optional[index]

    async def _next_optional(self) -> None:
        s = self._s
        r = self._optional_offered()
        if r is None:
            await self._confirm()
            return
        s.stage = OPTIONAL
        text = w.SYARAT_OPTIONAL.format(name=r.name)
        options = [Option(SKIP, w.SKIP_SYARAT)]
        if r.code in s.kept:
            text = f"{text}\n{w.SYARAT_KEPT.format(name=r.name)}"
            options = [Option(KEPT, w.USE_KEPT), *options]
        await self._ask(text, options)

    async def _on_optional(self, m: Inbound) -> None:
        s = self._s
        r = self._optional_offered()
        assert r is not None
        if m.kind == MEDIA:
            ref = await self._fetch_media(m)
            if ref is None:
                return
            s.attachments[r.code] = ref
        else:
            picked = self._pick(m)
            if picked is None and m.kind == TEXT:
                if " ".join(m.text.split()).lower() not in w.SKIP_WORDS:
                    await self._send(w.SYARAT_OPTIONAL_TEXT.format(name=r.name))
                    return
                picked = SKIP
            if picked is None or picked == STALE:
                await self._refuse(picked)
                return
            if picked == KEPT:
                s.attachments[r.code] = KEPT
        s.requirement += 1
        await self._next_optional()

    async def _fetch_media(self, m: Inbound) -> str | None:
        """The resident's photo or PDF, fetched and checked as a syarat; None once the resident
        has been told why it was refused."""
        fetched: MediaResult = await workflow.execute_activity(
            ACTIVITY_FETCH_MEDIA,
            MediaRequest(key=self._key, media_id=m.media_id, mime_type=m.mime_type),
            result_type=MediaResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if fetched.problem:
            problem = w.MEDIA_PROBLEMS.get(fetched.problem, w.MEDIA_PROBLEMS["unreadable"])
            await self._send(problem.format(limit=MAX_MEDIA_MB))
            return None
        return fetched.ref

    async def _confirm(self) -> None:
        s = self._s
        assert s.letter is not None
        lines = [f"Surat: {s.letter.name}", f"Keperluan: {s.purpose}"]
        labels = {q.name: q.label for q in s.letter.questions}
        lines += [f"{labels[k]}: {v}" for k, v in s.answers.items()]
        lines += [f"Berkas: {len(s.attachments)} terlampir"]
        if s.letter.originals:
            lines += [w.ORIGINALS.format(names=", ".join(s.letter.originals))]
        s.stage = CONFIRM
        await self._ask(
            w.CONFIRM.format(summary="\n".join(lines)),
            [Option("send", w.CONFIRM_SEND), Option("cancel", w.CONFIRM_CANCEL)],
        )

    async def _on_confirm(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        s = self._s
        if picked == "cancel":
            self._reset(MENU)
            await self._send(w.CANCELLED)
            return
        assert s.letter is not None
        submitted: Submitted = await workflow.execute_activity(
            ACTIVITY_SUBMIT,
            Submission(
                key=self._key,
                request_id=f"wa-{self._key[:24]}-{workflow.info().run_id[:8]}-{s.submitted}",
                resident_id=s.resident_id,
                desa_code=s.desa_code,
                letter_type=s.letter.code,
                purpose=s.purpose,
                fields=dict(s.answers),
                attachments=dict(s.attachments),
            ),
            result_type=Submitted,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if submitted.problem:
            # Kept as it is: the resident may answer "batal" or try "Kirim" again.
            await self._send(submitted.problem)
            await self._confirm()
            return
        name, originals = s.letter.name, s.letter.originals
        s.submitted += 1
        self._reset(MENU)
        done = w.SUBMITTED.format(name=name)
        if originals:
            done = f"{done}\n{w.ORIGINALS.format(names=', '.join(originals))}"
        await self._send(done)

    async def _ask_cancel(self) -> None:
        s = self._s
        s.resume_stage, s.resume_asked, s.resume_options = s.stage, s.asked, s.options
        s.stage = CANCEL
        await self._ask(w.CANCEL_ASK, [Option("yes", w.CANCEL_YES), Option("no", w.CANCEL_NO)])

    async def _on_cancel(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        s = self._s
        if picked == "yes":
            self._reset(MENU)
            await self._send(w.CANCELLED)
            return
        s.stage = s.resume_stage or MENU
        s.asked, s.options = s.resume_asked, s.resume_options
        await self._repeat()

    async def _ask_which_to_cancel(self) -> None:
        s = self._s
        s.cancellable = await workflow.execute_activity(
            ACTIVITY_CANCELLABLE,
            RegisterRequest(key=self._key, resident_id=s.resident_id),
            result_type=list[AppRef],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if not s.cancellable:
            s.stage = MENU
            await self._send(w.NOTHING_TO_CANCEL)
            return
        s.stage = CANCEL_PICK
        await self._ask(
            w.WHICH_TO_CANCEL,
            [Option(a.id, a.number[:24], a.name[:72]) for a in s.cancellable[:10]],
            kind=REPLY_LIST,
        )

    async def _on_cancel_pick(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        s = self._s
        chosen = next(a for a in s.cancellable if a.id == picked)
        s.cancel_pick, s.stage = chosen.id, CANCEL_SUBMITTED
        await self._ask(
            w.CANCEL_SUBMITTED_ASK.format(number=chosen.number, name=chosen.name),
            [Option("yes", w.CANCEL_YES), Option("no", w.CANCEL_SUBMITTED_NO)],
        )

    async def _on_cancel_submitted(self, m: Inbound) -> None:
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        s = self._s
        chosen = next(a for a in s.cancellable if a.id == s.cancel_pick)
        s.stage, s.cancellable, s.cancel_pick = MENU, [], ""
        if picked != "yes":
            await self._send(w.KEEP_IT)
            return
        problem: str = await workflow.execute_activity(
            ACTIVITY_CANCEL_APPLICATION,
            CancelRequest(key=self._key, resident_id=s.resident_id, application_id=chosen.id),
            result_type=str,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        await self._send(problem or w.SUBMITTED_CANCELLED.format(number=chosen.number))

    async def _revision_file(self, m: Inbound) -> None:
        """A file outside a letter request answers a revision request, if one waits: it is
        fetched and checked as a syarat, and the resident says which syarat it replaces."""
        s = self._s
        returned: list[Revisable] = await workflow.execute_activity(
            ACTIVITY_REVISABLE,
            RegisterRequest(key=self._key, resident_id=s.resident_id),
            result_type=list[Revisable],
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if not returned or not returned[0].requirements:
            await self._send(w.MEDIA_NOT_EXPECTED)
            return
        ref = await self._fetch_media(m)
        if ref is None:
            return
        await self._drop_revision_file()  # an earlier one never used
        # The oldest returned application first; the next file answers the next one.
        app = returned[0]
        s.revising, s.revise_ref, s.stage = app, ref, REVISE
        await self._ask(
            w.REVISE_WHICH.format(number=app.number, name=app.name),
            [Option(r.code, r.name[:20]) for r in app.requirements[:9]]
            + [Option("no", w.REVISE_NOT)],
            kind=REPLY_BUTTONS if len(app.requirements) <= 2 else REPLY_LIST,
        )

    async def _on_revise(self, m: Inbound) -> None:
        s = self._s
        if m.kind == MEDIA:
            await self._revision_file(m)  # another file instead: asked again for that one
            return
        picked = self._pick(m)
        if picked is None or picked == STALE:
            await self._refuse(picked)
            return
        app, ref = s.revising, s.revise_ref
        assert app is not None
        if picked == "no":
            await self._drop_revision_file()
            s.stage = MENU
            await self._send(w.REVISE_DROPPED)
            return
        problem: str = await workflow.execute_activity(
            ACTIVITY_REVISE,
            ReviseRequest(
                key=self._key,
                resident_id=s.resident_id,
                application_id=app.id,
                kind=picked,
                ref=ref,
            ),
            result_type=str,
            start_to_close_timeout=_TIMEOUT * 3,
            retry_policy=_RETRY,
        )
        if problem:
            # The file is refused or the application moved on: the resident may send another.
            await self._drop_revision_file()
            s.stage = MENU
            await self._send(problem)
            return
        s.revising, s.revise_ref, s.stage = None, "", MENU
        syarat = next((r.name for r in app.requirements if r.code == picked), picked)
        await self._send(w.REVISED.format(syarat=syarat, number=app.number))

    async def _drop_revision_file(self) -> None:
        s = self._s
        if s.revise_ref:
            await workflow.execute_activity(
                ACTIVITY_DROP_MEDIA,
                MediaRequest(key=self._key, media_id=s.revise_ref, mime_type=""),
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
        s.revising, s.revise_ref = None, ""

    async def _repeat(self) -> None:
        """Ask again what the current stage waits for."""
        s = self._s
        if s.stage == TYPE:
            await self._types()
        elif s.stage in (DATA, CORRECT_CONFIRM, CORRECT_NEXT):
            await self._ask(s.asked, s.options)
        elif s.stage == CORRECT_FIELD:
            await self._ask_correct_field()
        elif s.stage == CORRECT_VALUE:
            await self._send(w.CORRECT_VALUE.format(label=s.correct_label.lower()))
        elif s.stage == PURPOSE:
            await self._send(w.PURPOSE)
        elif s.stage == QUESTION:
            await self._next_question()
        elif s.stage == SYARAT:
            await self._next_syarat()
        elif s.stage == OPTIONAL:
            await self._next_optional()
        elif s.stage == CONFIRM:
            await self._confirm()
        else:
            await self._menu()

    async def _on_office(self, m: Inbound) -> None:
        text = " ".join(m.text.split())
        if m.kind != TEXT or not text:
            await self._send(w.OFFICE_ASK)
            return
        await self._to_office(text)

    async def _to_office(self, text: str) -> None:
        s = self._s
        await workflow.execute_activity(
            ACTIVITY_TO_OFFICE,
            OfficeMessage(
                key=self._key,
                resident_id=s.resident_id,
                resident_name=s.resident_name,
                desa_code=s.desa_code,
                text=text,
                request_id=str(workflow.uuid4()),
            ),
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        if s.stage == OFFICE:
            s.stage = MENU
        await self._send(w.OFFICE_SENT)

    # --- helpers ---------------------------------------------------------------------------

    def _reset(self, stage: str) -> None:
        s = self._s
        s.stage = stage
        s.letter, s.offered, s.answers, s.attachments = None, [], {}, {}
        s.question = s.requirement = 0
        s.purpose = s.resume_stage = ""
        s.correct_field = s.correct_label = s.correct_value = s.correct_current = ""
        s.options = []

    def _pick(self, m: Inbound) -> str | None:
        """The current prompt's option the message chooses: a button/row of this prompt, its
        number typed, or its title typed. STALE for a button of an earlier prompt."""
        options = self._s.options
        if m.kind == CHOICE:
            prompt, _, value = m.choice.partition(":")
            if prompt != str(self._s.prompt):
                return STALE
            return value if any(o.id == value for o in options) else STALE
        if m.kind != TEXT:
            return None
        text = " ".join(m.text.split()).lower()
        if text.isdigit() and 1 <= int(text) <= len(options):
            return options[int(text) - 1].id
        for o in options:
            if text in (o.title.lower(), o.id.lower()):
                return o.id
        return None

    async def _refuse(self, picked: str | None) -> None:
        await self._send(w.STALE_CHOICE if picked == STALE else w.EXPECTED_CHOICE)
        await self._ask_again()

    async def _ask_again(self) -> None:
        s = self._s
        if not s.options:
            return
        kind = REPLY_BUTTONS if len(s.options) <= 3 else REPLY_LIST
        numbered = "\n".join(f"{i}. {o.title}" for i, o in enumerate(s.options, 1))
        await self._send(numbered, kind=kind, options=s.options, button="Pilih")

    async def _ask(
        self, body: str, options: list[Option], *, kind: str = REPLY_BUTTONS, button: str = ""
    ) -> None:
        self._s.prompt += 1
        self._s.options = options
        self._s.asked = body
        if len(options) > 3 and kind == REPLY_BUTTONS:
            kind = REPLY_LIST
        numbered = "\n".join(f"{i}. {o.title}" for i, o in enumerate(options, 1))
        await self._send(
            f"{body}\n\n{numbered}", kind=kind, options=options, button=button or "Pilih"
        )

    async def _send(
        self,
        body: str,
        *,
        kind: str = "text",
        options: list[Option] | None = None,
        button: str = "",
        template: str = "chat_reply",
        params: list[str] | None = None,
    ) -> None:
        prompt = str(self._s.prompt)
        sent_options = [Option(f"{prompt}:{o.id}", o.title, o.description) for o in (options or [])]
        reply = Reply(
            key=self._key,
            body=body,
            kind=kind,
            options=sent_options,
            button=button,
            template=template,
            params=params or [],
        )
        await workflow.execute_activity(
            ACTIVITY_SEND, reply, start_to_close_timeout=_TIMEOUT, retry_policy=_RETRY
        )


def _command(m: Inbound) -> str | None:
    if m.kind != TEXT:
        return None
    words = m.text.strip().lower().split()
    if not words:
        return None
    command = COMMANDS.get(words[0].strip(".,!?"))
    # Only "petugas" takes words after it (the message for the office).
    if command and (len(words) == 1 or command == "petugas"):
        return command
    return None


def _first_name(name: str) -> str:
    return name.split()[0].title() if name.split() else "Warga"
