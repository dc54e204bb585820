"""The migration tests run the real chain, never the run's migrated templates."""

import pytest

from common.migrations import TEMPLATES_ENV


@pytest.fixture(autouse=True)
def no_migration_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEMPLATES_ENV, raising=False)
