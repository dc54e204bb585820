"""The custom search attributes Diskominfo filters letters by in the Temporal UI. Registered on
the dev server by `make run` (scripts/devstack.py) and by the tests' dev server; in production
with `temporal operator search-attribute create` (see docs/workflow.md).

Values are codes and roles only, never personal data: search attributes are stored unencrypted.
"""

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

DESA_CODE = SearchAttributeKey.for_keyword("DesaCode")
KECAMATAN_CODE = SearchAttributeKey.for_keyword("KecamatanCode")
LETTER_TYPE = SearchAttributeKey.for_keyword("LetterType")
STEP = SearchAttributeKey.for_keyword("Step")  # the route step's role, e.g. "sekdes"
ASSIGNEE_ROLE = SearchAttributeKey.for_keyword("AssigneeRole")  # who is asked to act now
DEADLINE = SearchAttributeKey.for_datetime("Deadline")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
STATUS = SearchAttributeKey.for_keyword("Status")

ALL: list[SearchAttributeKey] = [  # type: ignore[type-arg]
    DESA_CODE,
    KECAMATAN_CODE,
    LETTER_TYPE,
    STEP,
    ASSIGNEE_ROLE,
    DEADLINE,
    OVERDUE,
    STATUS,
]

_CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}


def dev_server_args() -> list[str]:
    """`temporal server start-dev` arguments that register every attribute."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}"]
    return args


def kecamatan_code(desa_code: str) -> str:
    """Kemendagri codes nest: 32.13.11.2004 is a desa of kecamatan 32.13.11."""
    return ".".join(desa_code.split(".")[:3])
