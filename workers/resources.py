"""Per-process resources a task needs: sessions, the classifier, the policy, connectors."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from service.config import get_settings
from service.storage.db import session_factory
from service.tenants import TenantCalibration, get_tenants
from workers import metrics
from workers.connectors.base import Connector
from workers.connectors.registry import build_connectors
from workers.inference.base import Classifier, load_classifier
from workers.routing.policy import Policy, load_policy


def sessions() -> sessionmaker[Session]:
    return session_factory(get_settings().sqlalchemy_url)


@lru_cache(maxsize=1)
def classifier() -> Classifier:
    """Load the model once per process, on first use: after the fork, where CUDA may be initialised."""
    settings = get_settings()
    return metrics.observe_model_load(lambda: load_classifier(settings), default_device=settings.device)


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy(get_settings().policy_file)


@lru_cache(maxsize=64)
def connectors_for(tenant: str) -> dict[str, Connector]:
    found = get_tenants().get(tenant)
    return build_connectors(found, get_settings()) if found else {}


def calibration_for(tenant: str) -> TenantCalibration:
    """Return the tenant's inbox calibration from the tenants file (defaults change nothing)."""
    found = get_tenants().get(tenant)
    return found.calibration if found else TenantCalibration()
