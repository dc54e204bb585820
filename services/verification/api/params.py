"""Path parameters the staff API and the staff pages share."""

from typing import Annotated

from fastapi import Path

ApplicationId = Annotated[str, Path(min_length=1, max_length=64)]
