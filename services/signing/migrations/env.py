"""Alembic environment of the signing service: its own tables, its own database."""

from common.migrations import run_env
from services.signing.config import get_settings
from services.signing.models import TABLES

run_env(TABLES, lambda: get_settings().database_url)
