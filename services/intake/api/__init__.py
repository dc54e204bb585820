"""Intake's resident REST API (/api/v1)."""
