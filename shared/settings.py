"""Settings read once from the environment (prefix ``LINKAGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("intake", "dispatch", "notify", "analytics")
DEFAULT_PORTS = {"intake": 8001, "dispatch": 8002, "notify": 8003, "analytics": 8004}


SECRET_SETTINGS: tuple[str, ...] = (
    "wechat_token",
    "wechat_aes_key",
    "open311_api_keys",
    "grid_token_secret",
    "audit_key",
    "session_secret",
    "sms_gateway_secret",
)
"""Settings whose default is a public demo value (or empty): outside ``demo_mode`` a service refuses to
start until each is set. Names not (yet) defined on :class:`Settings` are skipped."""


class DemoSecretsError(RuntimeError):
    """A service was started outside demo mode with demo (or empty) secrets."""

    def __init__(self, variables: list[str]) -> None:
        self.variables = variables
        super().__init__(
            "refusing to start: these secrets still have their public demo value or are empty: "
            + ", ".join(variables)
            + ". Set each to a private value (e.g. from a Kubernetes Secret), or set LINKAGE_DEMO_MODE=true"
            " for a local demo only."
        )


def demo_secrets_in_use(*configs: BaseSettings) -> list[str]:
    """``LINKAGE_*`` names of the :data:`SECRET_SETTINGS` that are empty or equal their (demo) default."""
    unsafe: list[str] = []
    for config in configs:
        fields = type(config).model_fields
        for name in SECRET_SETTINGS:
            if name not in fields:
                continue
            value = str(getattr(config, name) or "").strip()
            variable = f"LINKAGE_{name.upper()}"
            if (not value or value == str(fields[name].default)) and variable not in unsafe:
                unsafe.append(variable)
    return unsafe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINKAGE_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/linkage",
        description="PostgreSQL URL; every service uses its own schema in it.",
    )
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    group_prefix: str = ""
    partitions: int = 12
    replication_factor: int = 1

    db_pool_size: int = 10
    db_max_overflow: int = 10

    outbox_batch_size: int = 500
    outbox_poll_interval_s: float = 0.05
    outbox_retention_hours: float = 24 * 7
    outbox_broker_check_interval_s: float = 2.0
    processed_retention_hours: float = 24 * 30
    sla_scan_interval_s: float = 1.0  # dispatch: how often the SLA timer scanner looks for due timers
    sla_scan_batch_size: int = 500  # dispatch: timers one scan claims and fires in one transaction
    sla_scan_workers: int = 2  # dispatch: concurrent scanner loops per process (SKIP LOCKED keeps them apart)

    consumer_batch_size: int = 500
    consumer_max_attempts: int = 3
    consumer_retry_backoff_s: float = 0.2
    consumer_session_timeout_ms: int = 6000
    consumer_heartbeat_interval_ms: int = 1000
    # how long the broker may hold a fetch that found nothing new: Tansu answers when this runs out, not when a
    # record arrives, so it is a floor under every hop's latency (aiokafka's 500 ms gave ~125 ms median per hop)
    consumer_fetch_max_wait_ms: int = 50
    consumer_max_fetch_bytes: int = 16 * 1024 * 1024  # a record up to this size can still be read (and dead-lettered)
    # larger poison goes to the DLQ topic as a reference; its bytes stay in the dead_letters table
    dlq_max_inline_bytes: int = 512 * 1024
    task_restart_backoff_max_s: float = 30.0  # supervised background tasks restart after at most this long

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 4000

    log_level: str = "INFO"
    log_json: bool = True
    var_dir: Path = Path("var")
    blob_dir: Path | None = None
    model_cache_dir: Path | None = Field(
        default=None,
        description="intake: where the trained classifier is stored for the next start (default var_dir/cache; "
        "'-' never stores it).",
    )
    public_base_url: str = ""
    measures_config: Path | None = Field(
        default=None,
        description="analytics: a YAML file overriding services/analytics/measures/config.yaml (weights, thresholds).",
    )

    dispatch_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Base URL of dispatch's HTTP API (intake reads case states from it for caller history/Open311).",
    )
    dispatch_timeout_s: float = 1.5
    open311_api_keys: str = Field(
        default="linkage-open311-demo-key",
        description="Comma-separated Open311 api_key values accepted by POST requests.",
    )
    open311_jurisdiction: str = "chenghua.linkage.cn"

    @property
    def open311_keys(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.open311_api_keys.split(",") if k.strip())

    # Public surfaces (Open311 GET, /api/v1/track, unkeyed case status): what they show, how often
    public_description_policy: Literal["redacted", "none"] = Field(
        default="redacted",
        description="Citizens' text on public surfaces: 'redacted' (shared/redact.py masks) or 'none' (no text).",
    )
    public_rate_per_minute: float = 30.0  # per client address and endpoint group: lookups, Open311 GET
    public_rate_burst: int = 10
    service_rate_per_minute: float = 1200.0  # unkeyed case status by complaint ids (intake asks it)
    service_rate_burst: int = 200
    rate_limit_exempt: str = Field(
        default="", description="Comma-separated client addresses no rate limit applies to (internal callers)."
    )

    # Channels: WeChat official account (demo values; override them in any real deployment)
    wechat_token: str = "linkage-demo-token"
    wechat_aes_key: str = "TGlua2FnZURlbW9BRVNLZXkwMTIzNDU2Nzg5YWJjZGU"  # 43 chars (EncodingAESKey)
    wechat_appid: str = "wx6c696e6b61676501"
    wechat_max_body_bytes: int = 64 * 1024
    wechat_location_window_s: int = 30 * 60
    wechat_timestamp_window_s: int = 300  # callbacks further from our clock are refused (replays)
    # Photos sent to the official account are fetched later from their PicUrl, only from these hosts
    # (comma list, e.g. mmbiz.qpic.cn in production; empty: nothing is fetched, rows stay pending)
    wechat_media_hosts: str = ""
    media_fetch_interval_s: float = 2.0
    media_fetch_max_attempts: int = 5
    # Channels: app and grid uploads (photos)
    upload_max_photo_bytes: int = 5 * 1024 * 1024
    upload_max_photo_pixels: int = 40_000_000  # decoded size bound (decompression bombs)
    upload_max_photos: int = 6
    upload_max_body_bytes: int = 32 * 1024 * 1024
    grid_token_secret: str = "linkage-demo-grid-secret"
    # Hotline console sessions: signed cookies (HMAC key) and how long a login lasts
    session_secret: str = "linkage-demo-session-secret"  # demo value
    console_session_hours: float = 12.0
    # Blob store: "local" (``blob_dir`` or ``var_dir/blobs``) or "s3" (needs boto3; AWS_* env for credentials)
    blob_backend: str = "local"
    blob_s3_bucket: str = ""
    blob_s3_prefix: str = "blobs/"
    blob_s3_endpoint_url: str = ""

    # Tamper-evident case history (dispatch): HMAC key of the chain, never stored in the database.
    # Rotation: give the new key a new id and keep old ones in ``audit_previous_keys`` ("id:secret,...").
    audit_key: str = "linkage-demo-audit-key"  # demo value
    audit_key_id: str = "k1"
    audit_previous_keys: str = ""
    audit_checkpoint_dir: Path | None = None  # default: var_dir/audit
    audit_checkpoint_interval_s: float = 30.0

    # Demo mode (set by `linkage up` and the test harness): demo secrets are accepted.
    demo_mode: bool = False

    @property
    def audit_keys(self) -> dict[str, bytes]:
        """Every audit key by id: the current one and the rotated-out ones still needed to verify."""
        keys: dict[str, bytes] = {}
        for item in self.audit_previous_keys.split(","):
            key_id, sep, secret = item.strip().partition(":")
            if sep and key_id and secret:
                keys[key_id] = secret.encode()
        keys[self.audit_key_id] = self.audit_key.encode()
        return keys

    @property
    def audit_dir(self) -> Path:
        return self.audit_checkpoint_dir or self.var_dir / "audit"

    @property
    def model_cache(self) -> Path | None:
        if self.model_cache_dir == Path("-"):
            return None
        return self.model_cache_dir or self.var_dir / "cache"

    def demo_secrets_in_use(self, *extra: BaseSettings) -> list[str]:
        """Environment variables of secrets that are empty or still carry their public demo value
        (in these settings and in a service's own, e.g. notify's ``NotifySettings``)."""
        return demo_secrets_in_use(self, *extra)

    def refuse_demo_secrets(self, *extra: BaseSettings) -> None:
        """Outside demo mode, raise :class:`DemoSecretsError` naming every secret left at its demo value."""
        if self.demo_mode:
            return
        unsafe = self.demo_secrets_in_use(*extra)
        if unsafe:
            raise DemoSecretsError(unsafe)

    @model_validator(mode="after")
    def _tracking_outlives_outbox(self) -> Settings:
        # a re-published event must still be recognised as processed
        if self.processed_retention_hours < self.outbox_retention_hours:
            raise ValueError("LINKAGE_PROCESSED_RETENTION_HOURS must be >= LINKAGE_OUTBOX_RETENTION_HOURS")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def group(self, name: str) -> str:
        return f"{self.group_prefix}{name}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
