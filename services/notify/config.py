"""Notify-only settings (prefix ``LINKAGE_``): channel providers, delivery retries.

When a provider URL is empty the channel goes to the development sink (the ``messages`` table,
status ``sent``, visible at ``/dev/messages``) and nothing leaves the machine.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SMS_GATEWAY_SECRET = "linkage-demo-sms-gateway-secret"


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINKAGE_", env_file=None, extra="ignore")

    dev_sink_enabled: bool = Field(
        default=False,
        description="Serve /dev/messages (every message in full: phone numbers, survey links); off (404) unless "
        "set: `linkage up` and the test stack turn it on.",
    )
    sms_url: str = Field(default="", description="SMS gateway endpoint (POST JSON); empty = development sink.")
    sms_api_key: str = ""
    sms_sign: str = "12345"
    wechat_api_url: str = Field(
        default="", description="WeChat template message endpoint (message/template/send); empty = development sink."
    )
    wechat_access_token: str = ""
    wechat_template_id: str = "linkage-case-progress"
    notify_webhook_urls: dict[str, str] = Field(
        default_factory=dict, description='Department code → webhook URL (JSON, e.g. {"CGJ": "https://..."}).'
    )
    notify_webhook_default_url: str = Field(default="", description="Webhook for departments not listed above.")

    survey_token_ttl_hours: float = Field(
        default=240.0,
        description="How long a survey link (token) may be answered: the 3-working-day survey window plus the "
        "longest holiday run (dispatch closes unanswered cases as 未评价 anyway).",
    )
    survey_rate_per_minute: float = Field(
        default=60.0, description="Survey link/page/answer requests per minute from one client address (429 above)."
    )
    sms_gateway_secret: str = Field(
        default=DEMO_SMS_GATEWAY_SECRET,
        description="HMAC-SHA256 key the SMS gateway signs survey reply callbacks with (demo value: change it).",
    )
    sms_gateway_window_s: int = Field(default=300, description="Accepted clock skew of a signed gateway callback.")

    notify_max_attempts: int = 5
    notify_backoff_s: float = 2.0
    notify_backoff_max_s: float = 600.0
    notify_lease_s: float = 60.0
    notify_poll_interval_s: float = 0.2
    notify_batch_size: int = 50
    notify_send_timeout_s: float = 5.0
    notify_reply_summary_chars: int = 60
    notify_answer_chars: int = 200


@lru_cache(maxsize=1)
def get_notify_settings() -> NotifySettings:
    return NotifySettings()
