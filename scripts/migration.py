"""`make migration SERVICE=intake MSG="add deadline to tasks"`: a new Alembic revision for one
service, generated from the difference between its models and its migrations so far.

No database is needed: the migrations are applied to a scratch SQLite file and compared with
the models there. Read the new file under services/<service>/migrations/versions/ before
committing it (renames show up as a drop and an add; data moves are yours to write).
"""

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

from alembic import command

from common.db import create_engine
from common.migrations import SERVICES, alembic_config, migrations_dir, upgrade


def _slug(message: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "revision"


def new_revision(service: str, message: str) -> Path | None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"

        async def migrate() -> None:
            engine = create_engine(url)
            try:
                await upgrade(engine, service)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        versions = migrations_dir(service) / "versions"
        before = set(versions.glob("*.py"))
        number = len(before) + 1
        command.revision(
            alembic_config(service, url),
            message=message,
            autogenerate=True,
            rev_id=f"{number:04d}",
        )
        created = sorted(set(versions.glob("*.py")) - before)
        if not created:
            return None
        fill_new_not_null_columns(created[0])
        # Name files by their order, so `ls` shows the history.
        target = versions / f"{number:04d}_{_slug(message)}.py"
        created[0].rename(target)
        return target


# A NOT NULL column added to a table that has rows needs a value for them. The models declare
# Python-side defaults only, so the revision adds the column with a server default (the
# type's empty value) and then drops that default again: existing rows get it, and the schema
# ends up exactly as the models say (which tests/migrations compares).
_FILL = {"AutoString()": '""', "Integer()": '"0"', "Boolean()": "sa.false()"}
_ADD_NOT_NULL = re.compile(
    r"^(?P<indent>\s*)batch_op\.add_column\(sa\.Column\((?P<name>'[^']+'|\"[^\"]+\"), "
    r"(?P<type>[\w.]+\(\)), nullable=False\)\)$"
)
_BATCH = re.compile(r"^(?P<indent>\s*)with op\.batch_alter_table\((?P<table>[^,]+),")


def fill_new_not_null_columns(path: Path) -> None:
    lines = path.read_text().splitlines()
    out: list[str] = []
    table: str | None = None
    table_indent = ""
    filled: list[str] = []

    def close_block() -> None:
        if table is not None and filled:
            out.append(
                f"{table_indent}with op.batch_alter_table({table}, schema=None) as batch_op:"
            )
            out.extend(
                f"{table_indent}    batch_op.alter_column({name}, server_default=None)"
                for name in filled
            )
            out.append("")

    in_upgrade = False
    for line in lines:
        if line.startswith("def "):
            close_block()
            table, filled = None, []
            in_upgrade = line.startswith("def upgrade")
        batch = _BATCH.match(line)
        if batch and in_upgrade:
            close_block()
            table, table_indent, filled = batch["table"], batch["indent"], []
        added = _ADD_NOT_NULL.match(line) if in_upgrade else None
        if added:
            fill = next((v for k, v in _FILL.items() if added["type"].endswith(k)), None)
            if fill is not None:
                line = (
                    f"{added['indent']}batch_op.add_column(sa.Column({added['name']}, "
                    f"{added['type']}, nullable=False, server_default={fill}))"
                )
                filled.append(added["name"])
        out.append(line)
    path.write_text("\n".join(out) + "\n")


def print_sql(service: str) -> None:
    """The SQL of every revision for PostgreSQL, for a DBA who applies it by hand."""
    command.upgrade(alembic_config(service, "postgresql+asyncpg://"), "head", sql=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("message", nargs="?", help="what the new revision changes")
    parser.add_argument(
        "--sql", action="store_true", help="print the PostgreSQL upgrade script instead"
    )
    args = parser.parse_args()
    if args.sql:
        print_sql(args.service)
        return 0
    if not args.message:
        parser.error("a message is needed for a new revision")
    path = new_revision(args.service, args.message)
    if path is None:
        print("no revision written", file=sys.stderr)
        return 1
    print(f"wrote {path}; read it, then run the tests (tests/migrations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
