"""Alembic environment of the verification service: its own tables, its own database."""

from common.migrations import run_env
from services.verification.config import get_settings
from services.verification.models import TABLES

run_env(TABLES, lambda: get_settings().database_url)
