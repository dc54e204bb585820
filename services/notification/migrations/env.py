"""Alembic environment of the notification service: its own tables, its own database."""

from common.migrations import run_env
from services.notification.config import get_settings
from services.notification.models import TABLES

run_env(TABLES, lambda: get_settings().database_url)
