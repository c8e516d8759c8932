"""Typed settings for every process, read from `TRIAGE_*` environment variables or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in examples and docs. Outside development they would let anyone in, so refuse them.
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "example", "whsec_example"}

# Standard Webhooks' example schedule (seconds after the previous try): immediately, 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. Source: ../shared/reference/reliability.md.
DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]

# The longest retry window of any sender we accept: Standard Webhooks' example schedule, 75 h 35 min
# (spec v1.0.0). Every vendor's window and its source: service/lifecycle/windows.py. Delivery ids are
# kept about twice that, rounded up to a week.
LONGEST_SENDER_RETRY_HOURS = 75 + 35 / 60 + 5 / 3600
DEFAULT_DELIVERY_RETENTION_HOURS = 168.0
# A century: longer windows would overflow date arithmetic and stop the retention job.
MAX_RETENTION_DAYS = 36_500


class Settings(BaseSettings):
    """Every setting of the service; each maps to the env var `TRIAGE_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        "development", description="Deployment kind; placeholder secrets are refused outside development."
    )
    log_level: str = Field("INFO", description="Log level of the API and workers.")
    log_format: Literal["json", "console"] = Field(
        "json", description="`json`: one JSON object per line; `console`: plain text for a terminal."
    )
    data_dir: Path = Field(Path("var"), description="Where `triage serve` keeps its SQLite file and state.")
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: a SQLite file `triage.db` under `data_dir`."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL used as the Celery broker and for shared state."
    )
    api_key: SecretStr | None = Field(
        None, description="API key of the default tenant for `/v1` calls (`X-API-Key` header)."
    )
    tenants_file: Path | None = Field(
        None, description="YAML file of tenants with their API keys, secrets and helpdesk credentials."
    )
    max_body_bytes: int = Field(256 * 1024, gt=0, description="Largest request body accepted (413 above).")
    max_messages: int = Field(200, gt=0, description="Most messages accepted in one ticket.")
    max_message_chars: int = Field(20_000, gt=0, description="Longest message body accepted, in characters.")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL clients use to reach the API (status links)."
    )
    metrics_public: bool = Field(
        False, description="Serve the API's /metrics without an API key (keep false unless it is firewalled)."
    )
    api_request_read_timeout_seconds: float = Field(
        15.0, gt=0, description="A request not fully received this long after its first byte is dropped."
    )
    api_keep_alive_timeout_seconds: int = Field(
        5, ge=1, description="An idle keep-alive connection to the API is closed after this long."
    )
    api_max_connections: int = Field(
        512, ge=1, description="Connections the API serves at once; more are answered 503."
    )
    enqueue_timeout_seconds: float = Field(
        2.0, gt=0, description="How long intake waits for Redis before leaving the ticket to the sweep."
    )

    # Workers
    classifier: str = Field(
        "transformer",
        description="Classifier backend: `transformer`, or `module:Class` for a plug-in (tests use fakes).",
    )
    model_dir: Path | None = Field(
        None, description="Directory of trained heads and calibration. Empty: the artefacts that ship."
    )
    device: str = Field("auto", description="Inference device: `auto` (CUDA if present), `cpu` or `cuda`.")
    inference_threads: int = Field(1, ge=1, description="torch threads per worker process.")
    max_batch_size: int = Field(32, ge=1, description="Most texts in one forward pass.")
    inference_batch_wait_ms: float = Field(
        0.0,
        ge=0,
        description="GPU workers (`--pool threads`): gather concurrent tickets into one forward pass of at "
        "most `max_batch_size` texts, waiting at most this long for more; 0 turns gathering off (on the "
        "CPU it adds latency and no throughput).",
    )
    inference_precision: Literal["auto", "fp32", "int8", "fp16", "bf16"] = Field(
        "auto", description="`auto`: int8 (per-channel) on the CPU, fp16 on CUDA; or force one."
    )
    evidence_mode: Literal["all", "flagged", "none"] = Field(
        "flagged",
        description="Which texts get evidence: `flagged` (frustrated or high/critical urgency), "
        "`all` or `none`.",
    )
    evidence_method: Literal["pooled", "occlusion"] = Field(
        "pooled",
        description="`pooled`: each sentence left out of the pooled token states of the one scoring pass "
        "(no extra cost); `occlusion`: each sentence deleted and the text encoded again (one more pass "
        "per sentence, up to 8).",
    )
    policy_file: Path | None = Field(None, description="Routing policy YAML. Empty: the default policy.")
    visibility_timeout_seconds: int = Field(
        3600, gt=0, description="Redis visibility timeout: an unacknowledged task is redelivered after it."
    )
    triage_deadline_seconds: int = Field(
        120,
        gt=0,
        description="A ticket accepted but not triaged after this long is re-enqueued by the sweep.",
    )
    sweep_interval_seconds: float = Field(30.0, gt=0, description="How often the reconciliation sweep runs.")
    max_task_deliveries: int = Field(
        5, ge=1, description="Tries per ticket revision before it is parked as failed (poison message)."
    )
    # Loopback by default: the worker's /metrics has no authentication and carries per-tenant labels
    # the API's /metrics keeps behind its key. Deployments that scrape over a network set it.
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="Interface the worker's unauthenticated /metrics binds to; set 0.0.0.0 only where "
        "a network policy or firewall limits who reaches it (`triage serve` uses its --host).",
    )
    worker_metrics_port: int = Field(
        9100, ge=0, le=65535, description="Port of the worker's Prometheus /metrics (0 turns it off)."
    )

    # Data lifecycle (service/lifecycle): defaults for tenants whose entry in the tenants file has no
    # `retention:` of its own, and the scheduled job that applies them.
    retention_days: int = Field(
        90,
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="Days after a ticket's last activity that its customer text is deleted.",
    )
    retention_closed_days: int = Field(
        30,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days after the helpdesk closed a ticket (and no activity since) that its "
        "text is deleted, if sooner than `retention_days`.",
    )
    retention_deleted_days: int = Field(
        0,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days after the helpdesk deleted a ticket that its text is deleted (0: at the "
        "next retention run).",
    )
    retention_interval_seconds: float = Field(
        900.0, gt=0, description="How often the retention job runs (a Celery beat task)."
    )
    retention_batch_size: int = Field(
        200, ge=1, le=10_000, description="Tickets (or delivery ids) purged per transaction."
    )
    retention_batch_pause_seconds: float = Field(
        0.05, ge=0, description="Pause between two purge transactions, so intake's writes get the database."
    )
    retention_max_run_seconds: float = Field(
        300.0, gt=0, description="A retention run stops after this long; the next run carries on."
    )
    delivery_retention_hours: float = Field(
        DEFAULT_DELIVERY_RETENTION_HOURS,
        le=MAX_RETENTION_DAYS * 24,
        description="Hours an inbound delivery id is kept to drop a sender's retries; at least the longest "
        "retry window of any sender (docs/deployment.md, Data lifecycle).",
    )

    # Outbound
    outbound_webhook_url: str | None = Field(
        None, description="Standard Webhooks receiver for `ticket.*` events. Empty: no events are sent."
    )
    outbound_webhook_secret: SecretStr | None = Field(
        None, description="Signing secret for outbound events (`whsec_` + base64)."
    )
    outbound_timeout_seconds: float = Field(15.0, gt=0, description="Timeout of one outbound HTTP call.")
    outbound_allow_private: bool = Field(
        False, description="Allow outbound calls to loopback or private addresses (SSRF guard off)."
    )
    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [float(delay) for delay in DEFAULT_RETRY_SCHEDULE],
        description="Delays between outbound tries; after the last one the action is dead-lettered.",
    )

    # Reply drafts (workers/drafts) and the assist page
    draft_backend: Literal["retrieval", "transformers", "openai"] = Field(
        "retrieval",
        description="Draft writer: `retrieval` (approved templates, no model server), `transformers` (a "
        "local instruct model) or `openai` (an OpenAI-compatible endpoint). Others fall back to retrieval.",
    )
    draft_encoder: Literal["minilm", "lexical"] = Field(
        "minilm", description="How templates are ranked: the MiniLM encoder, or word overlap (no torch)."
    )
    draft_templates_file: Path | None = Field(
        None, description="YAML library of approved reply templates. Empty: the starter set."
    )
    draft_model_path: Path | None = Field(None, description="Directory of the local instruct model.")
    draft_model_file: str | None = Field(
        None, description="GGUF file name inside `draft_model_path`, if any."
    )
    draft_endpoint_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. `http://vllm:8000/v1` (vLLM, Ollama, TGI)."
    )
    draft_endpoint_model: str = Field("default", description="Model name sent to the endpoint.")
    draft_endpoint_api_key: SecretStr | None = Field(None, description="Bearer token for the endpoint.")
    draft_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one generation call.")
    assist_frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'self'"],
        description="Origins allowed to embed the assist page (CSP frame-ancestors), e.g. "
        "`https://*.zendesk.com`.",
    )

    # Paging (workers/connectors/pager.py)
    pager_url: str | None = Field(
        None,
        description="On-call endpoint: `https://events.pagerduty.com/v2/enqueue` or a Standard Webhooks "
        "receiver. Empty: nobody is paged.",
    )
    pager_format: Literal["pagerduty", "webhook"] = Field(
        "pagerduty", description="`pagerduty` (Events API v2) or `webhook` (Standard Webhooks)."
    )
    pager_routing_key: SecretStr | None = Field(None, description="PagerDuty integration (routing) key.")
    pager_secret: SecretStr | None = Field(None, description="Signing secret for the webhook format.")

    @field_validator("delivery_retention_hours")
    @classmethod
    def _outlive_every_sender(cls, value: float) -> float:
        # A delivery id forgotten while its sender still retries lets that retry in as a new delivery.
        if value < LONGEST_SENDER_RETRY_HOURS:
            raise ValueError(
                f"must be at least {LONGEST_SENDER_RETRY_HOURS:.1f} hours, the longest sender retry window"
            )
        return value

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _schedule_positive(cls, value: list[float]) -> list[float]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be zero or positive")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("api_key", "outbound_webhook_secret"):
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"TRIAGE_{name.upper()} is a placeholder; set a real secret")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'triage.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings; tests override this rather than mutate the environment."""
    return Settings()
