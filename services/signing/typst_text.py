"""Typst string literals: the one way text written by people enters a Typst source."""


def typst_str(value: object) -> str:
    """A Typst string literal holding `value` exactly (for use in code mode: `#[...]`, args)."""
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'
