"""Alembic environment of the intake service: its own tables, its own database."""

from common.migrations import run_env
from services.intake.config import get_settings
from services.intake.models import TABLES

run_env(TABLES, lambda: get_settings().intake_db_url)
