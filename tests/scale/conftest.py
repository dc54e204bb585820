"""The scale profile runs only under `make test-scale` (SMARTDESA_SCALE=1): it starts about
fifteen processes and takes minutes, past CI's budget. Everywhere else its tests are
deselected, whatever `-m` a make target passes."""

import os

import pytest

SCALE_VARIABLE = "SMARTDESA_SCALE"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(SCALE_VARIABLE) == "1":
        return
    kept = [item for item in items if item.get_closest_marker("scale") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
