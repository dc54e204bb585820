"""What the conversation workflow and its activities exchange. Plain dataclasses (Temporal's
JSON converter). No phone number appears here: activities find it from the conversation key."""

from dataclasses import dataclass, field

# Inbound kinds, from the Cloud API's message types.
TEXT = "text"
CHOICE = "choice"  # interactive button_reply / list_reply
MEDIA = "media"  # image / document
UNSUPPORTED = "unsupported"  # audio, sticker, location, …

# Reply kinds, as the Cloud API sends them.
REPLY_TEXT = "text"
REPLY_BUTTONS = "buttons"  # up to 3 reply buttons
REPLY_LIST = "list"  # up to 10 rows

# A fetched file's problems (MediaResult.problem).
MEDIA_TOO_LARGE = "too-large"
MEDIA_UNSUPPORTED = "unsupported"
MEDIA_UNREADABLE = "unreadable"


@dataclass
class Inbound:
    message_id: str  # the Cloud API's wamid: the same message redelivered has the same id
    kind: str
    sent_at: str  # ISO time the resident sent it (the Cloud API's timestamp)
    text: str = ""
    choice: str = ""  # the reply button's or list row's id
    media_id: str = ""
    mime_type: str = ""
    # An answer that is personal data (while linking a number): notification keeps the text,
    # the workflow sees only this reference.
    secret_ref: str = ""


@dataclass
class Option:
    id: str
    title: str  # ≤ 20 characters for a button, ≤ 24 for a list row
    description: str = ""  # list rows only, ≤ 72


@dataclass
class Reply:
    key: str
    body: str
    kind: str = REPLY_TEXT
    options: list[Option] = field(default_factory=list)
    button: str = ""  # a list's button label
    # Outside the 24-hour window this approved template goes instead (docs/whatsapp.md).
    template: str = "chat_reply"
    params: list[str] = field(default_factory=list)


@dataclass
class Holder:
    resident_id: str  # the register's opaque id
    name: str
    desa_code: str


@dataclass
class Question:
    name: str
    label: str
    required: bool
    kind: str  # text | date | choice | digits | time
    max_length: int
    choices: list[str] = field(default_factory=list)


@dataclass
class Requirement:
    code: str
    name: str


@dataclass
class LetterForm:
    code: str
    name: str
    questions: list[Question] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    # The catalogue's opsional syarat, offered after the required ones (sent or skipped) while
    # the filing has room for another scan; the originals brought to the office, by name.
    # Empty in conversations recorded before them (their history replays as it ran).
    optional: list[Requirement] = field(default_factory=list)
    originals: list[str] = field(default_factory=list)
    max_scans: int = 0  # scans one filing carries, required and optional (intake's limit)


@dataclass
class FieldCheck:
    letter_type: str
    name: str
    value: str


@dataclass
class FieldAnswer:
    value: str = ""  # as stored (a date as 1990-08-15)
    error: str = ""  # Indonesian, for the resident


@dataclass
class RegisterRequest:
    key: str
    resident_id: str


@dataclass
class RegisterSummary:
    text: str  # the register's data to confirm, a few lines
    filled: list[str] = field(default_factory=list)  # form fields the register fills


@dataclass
class CorrectionRequest:
    """A register correction the resident asks for in the chat (personal data: never logged)."""

    key: str
    resident_id: str
    field: str  # a letter form's register-held field, e.g. "tanggal_lahir"
    value: str


@dataclass
class MediaRequest:
    key: str
    media_id: str
    mime_type: str


@dataclass
class MediaResult:
    ref: str = ""  # the staged file, for the submission
    problem: str = ""


# Submission.attachments' value for "use the document intake keeps on file".
KEPT = "kept"
# An optional syarat's "Lewati" choice.
SKIP = "skip"


@dataclass
class Submission:
    key: str
    request_id: str  # idempotency: a retried submission files nothing new
    resident_id: str
    desa_code: str
    letter_type: str
    purpose: str
    fields: dict[str, str] = field(default_factory=dict)
    attachments: dict[str, str] = field(default_factory=dict)  # syarat code -> staged ref


@dataclass
class Submitted:
    application_id: str = ""
    problem: str = ""  # Indonesian, for the resident


@dataclass
class OfficeMessage:
    key: str
    resident_id: str
    resident_name: str
    desa_code: str
    text: str
    # Made once by the workflow (deterministic): a retried activity stores the message once.
    request_id: str = ""


@dataclass
class ExpectSecret:
    key: str
    on: bool


@dataclass
class LinkRequest:
    key: str
    refs: list[str]  # the NIK's, the KK number's and the mother's name's answers


@dataclass
class LinkResult:
    holder: Holder | None = None
    locked: bool = False  # too many failed attempts: try again later


@dataclass
class AppRef:
    id: str
    number: str
    name: str


@dataclass
class Revisable:
    """An application of the resident's returned for revision, and its syarat."""

    id: str
    number: str
    name: str
    requirements: list[Requirement] = field(default_factory=list)


@dataclass
class ReviseRequest:
    key: str
    resident_id: str
    application_id: str
    kind: str  # the syarat code the staged file replaces
    ref: str  # the staged file (MediaResult.ref)


@dataclass
class CancelRequest:
    key: str
    resident_id: str
    application_id: str


@dataclass
class ChatState:
    stage: str = "new"
    holders: list[Holder] = field(default_factory=list)
    resident_id: str = ""
    resident_name: str = ""
    desa_code: str = ""
    offered: list[LetterForm] = field(default_factory=list)
    letter: LetterForm | None = None
    purpose: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    question: int = 0
    requirement: int = 0
    attachments: dict[str, str] = field(default_factory=dict)
    # Every prompt with choices has a number; a choice from an older prompt (out of order,
    # another device) is refused instead of being read as an answer to the current one.
    prompt: int = 0
    options: list[Option] = field(default_factory=list)  # what the current prompt offers
    asked: str = ""  # the current prompt's text, to ask again
    resume_stage: str = ""  # where "batal? → lanjutkan" returns to
    resume_asked: str = ""  # and the prompt it asked there
    resume_options: list[Option] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # recent message ids (redeliveries)
    submitted: int = 0
    last_at: str = ""
    link_refs: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # KTP/KK intake keeps for the resident
    cancellable: list[AppRef] = field(default_factory=list)  # "batal" of a submitted one
    cancel_pick: str = ""
    revising: Revisable | None = None  # a file sent to answer a revision request
    revise_ref: str = ""  # and that file, staged
    correct_field: str = ""  # "Ada yang salah": the register field to correct
    correct_label: str = ""
    correct_current: str = ""  # the value the register holds now
    correct_value: str = ""  # and the value the resident says is right


@dataclass
class ConversationInput:
    key: str
    # A letter request left halfway this long is dropped, with a message; a quiet chat ends.
    expire_after_seconds: int = 3 * 24 * 3600
    state: ChatState | None = None  # carried over by continue-as-new
