"""Per-process resources a task needs: sessions, the classifier, the policy, connectors."""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


def sessions() -> sessionmaker[Session]:
    return session_factory(get_settings().sqlalchemy_url)


@lru_cache(maxsize=1)
def classifier() -> Classifier:
    """Load the model once per process, after the fork (CUDA and torch threads must not cross one)."""
    settings = get_settings()
    loaded = metrics.observe_model_load(lambda: load_classifier(settings), default_device=settings.device)
    if settings.inference_batch_wait_ms > 0:
        from workers.inference.batching import BatchingClassifier

        # Concurrent tasks (threads pool) share forward passes; see workers/inference/batching.py.
        return BatchingClassifier(
            loaded,
            max_batch_size=settings.max_batch_size,
            max_wait_seconds=settings.inference_batch_wait_ms / 1000,
        )
    return loaded


@lru_cache(maxsize=1)
def policy() -> Policy:
    return load_policy(get_settings().policy_file)


@lru_cache(maxsize=64)
def connectors_for(tenant: str) -> dict[str, Connector]:
    found = get_tenants().get(tenant)
    return build_connectors(found, get_settings()) if found else {}


def warm_up() -> None:
    """Load everything a triage task reads (model, policy, draft ranker) before this process takes work.

    Celery runs this in each pool process before the process reports itself up, and the pool hands
    no task to a process that is not up: no ticket waits for a load. A failure is logged, not raised,
    so the process still starts; its first task then tries the load again and fails visibly.
    """
    from workers.drafts.base import default_backend

    try:
        model = classifier()
        policy()
        default_backend()
    except Exception:
        log.exception("warm-up failed; the first task will load the model again")
        return
    # Loading left freed fp32 weights in the heap; hand them back before the process takes work.
    from workers.inference.runtime import release_freed_memory

    release_freed_memory()
    metrics.mark_process_warm(model, default_device=get_settings().device)


def calibration_for(tenant: str) -> TenantCalibration:
    """Return the tenant's inbox calibration from the tenants file (defaults change nothing)."""
    found = get_tenants().get(tenant)
    return found.calibration if found else TenantCalibration()
