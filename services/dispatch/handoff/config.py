"""Emergency hand-off settings (prefix ``LINKAGE_``): which transfer adapter, where, how often, when to escalate.

``handoff_adapter``:

- ``webhook``: POST a signed JSON document to the joint 110/119/120/122 platform (``handoff_webhook_url``);
- ``sink``: the development sink (``linkage up``, tests): hand-offs are recorded in ``handoff_sink`` and
  acknowledged after ``handoff_sink_ack_delay_s``; only allowed in demo mode;
- ``none``: nothing is sent; the dispatchers are alerted and phone the emergency service themselves;
- ``auto`` (default): ``webhook`` when a URL is set, else ``sink`` in demo mode, else ``none``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

AdapterName = Literal["webhook", "sink", "none"]


class HandoffSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINKAGE_", env_file=None, extra="ignore")

    handoff_adapter: Literal["auto", "webhook", "sink", "none"] = Field(
        default="auto", description="auto | webhook | sink | none (see the module docstring)"
    )
    handoff_webhook_url: str = Field(
        default="", description="The joint 110/119/120/122 platform's intake URL (POST JSON, HMAC-signed)."
    )
    handoff_webhook_secret: str = Field(
        default="",
        description="HMAC-SHA256 key shared with the platform: signs what we send and verifies its ack callbacks.",
    )
    handoff_timeout_s: float = Field(default=5.0, gt=0, description="One POST to the platform.")
    handoff_backoff_s: float = Field(default=1.0, gt=0, description="First retry delay; doubles per attempt.")
    handoff_backoff_max_s: float = Field(default=60.0, gt=0, description="Longest delay between two attempts.")
    handoff_ack_timeout_s: float = Field(
        default=180.0, gt=0, description="Not acknowledged this long after the transfer (or last escalation): escalate."
    )
    handoff_max_alert_level: int = Field(default=3, ge=1, le=9, description="Escalation raises the alert up to this.")
    handoff_sink_ack_delay_s: float = Field(default=3.0, ge=0, description="The development sink acknowledges then.")
    handoff_poll_interval_s: float = Field(default=1.0, gt=0)
    handoff_lease_s: float = Field(default=30.0, gt=0, description="A claimed hand-off whose sender died: resent then.")
    handoff_batch_size: int = Field(default=20, ge=1, le=500)
    handoff_callback_window_s: int = Field(default=300, ge=10, description="Accepted clock skew of an ack callback.")

    def resolved_adapter(self, *, demo_mode: bool) -> AdapterName:
        """The adapter actually used: ``auto`` resolved, and ``sink`` refused outside demo mode (→ ``none``)."""
        chosen = self.handoff_adapter
        if chosen == "auto":
            if self.handoff_webhook_url:
                return "webhook"
            return "sink" if demo_mode else "none"
        if chosen == "sink" and not demo_mode:
            return "none"  # a fake acknowledgement of a real emergency must never happen in production
        return chosen


@lru_cache(maxsize=1)
def get_handoff_settings() -> HandoffSettings:
    return HandoffSettings()
