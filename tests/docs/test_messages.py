"""docs/messages.md lists every message the notification service can send, as it sends it."""

import pytest

from services.notification.templates import Template, all_templates
from tests.docs.support import DOCS

PAGE = (DOCS / "messages.md").read_text()


@pytest.mark.unit
@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.name)
def test_every_template_is_listed_with_its_version_and_text(template: Template) -> None:
    assert f"`{template.name}` ({template.version})" in PAGE
    body = template.body.replace("|", "\\|").replace("\n", "<br>")
    assert body in PAGE, f"{template.name}: text differs from docs/messages.md"
