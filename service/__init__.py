"""Triage service: the API process (FastAPI)."""

__version__ = "0.1.0"
