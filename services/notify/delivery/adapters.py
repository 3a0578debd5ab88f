"""Channel adapters: ``await adapter.send(message) -> SendResult``.

``sent``: the provider took it (or, for the development sink, the row in ``messages`` is the delivery);
``retry``: a temporary failure (network, timeout, 408/429/5xx, WeChat "system busy"); ``failed``: the
provider refused it for good (other 4xx, a WeChat error code). The delivery job turns ``retry`` into a
later attempt with backoff, and into ``failed`` after ``notify_max_attempts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from services.notify.config import NotifySettings
from services.notify.message.models import Message

SendStatus = Literal["sent", "retry", "failed"]

#: WeChat errcodes worth retrying: -1 system busy, 45009 API quota, 42001/40001 token expired/invalid
#: (the token is refreshed outside this adapter).
WECHAT_RETRY = frozenset({-1, 45009, 42001, 40001})


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    error: str | None = None


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: Message) -> SendResult: ...


class DevelopmentSink:
    """The default: nothing leaves; the ``messages`` row (``/dev/messages``) is the delivery."""

    name = "development-sink"

    async def send(self, message: Message) -> SendResult:
        return SendResult("sent")


def classify_http(response: httpx.Response) -> SendResult:
    if response.is_success:
        return SendResult("sent")
    error = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        return SendResult("retry", error)
    return SendResult("failed", error)


class _HttpAdapter:
    name = "http"

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def _post(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response | SendResult:
        try:
            return await self.client.post(self.url, json=payload, **kwargs)
        except httpx.TimeoutException as exc:
            return SendResult("retry", f"timeout: {exc!r}")
        except httpx.TransportError as exc:
            return SendResult("retry", f"transport: {exc!r}")


class SmsAdapter(_HttpAdapter):
    """An SMS gateway taking ``{"phone", "content", "sign", "client_ref"}`` (``client_ref`` = message id,
    so a gateway that deduplicates makes a retried send harmless)."""

    name = "sms"

    def __init__(self, client: httpx.AsyncClient, url: str, *, api_key: str = "", sign: str = "12345") -> None:
        super().__init__(client, url)
        self.api_key = api_key
        self.sign = sign

    async def send(self, message: Message) -> SendResult:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        result = await self._post(
            {"phone": message.recipient, "content": message.body, "sign": self.sign, "client_ref": message.id},
            headers=headers,
        )
        return result if isinstance(result, SendResult) else classify_http(result)


class WeChatTemplateAdapter(_HttpAdapter):
    """WeChat official-account template message (``message/template/send``): ``touser`` = openid."""

    name = "wechat"

    def __init__(
        self, client: httpx.AsyncClient, url: str, *, access_token: str = "", template_id: str = "linkage-case-progress"
    ) -> None:
        super().__init__(client, url)
        self.access_token = access_token
        self.template_id = template_id

    def payload(self, message: Message) -> dict[str, Any]:
        return {
            "touser": message.recipient,
            "template_id": self.template_id,
            "data": {
                "first": {"value": message.body},
                "keyword1": {"value": message.tracking_code or ""},
                "keyword2": {"value": message.template},
            },
        }

    async def send(self, message: Message) -> SendResult:
        params = {"access_token": self.access_token} if self.access_token else {}
        result = await self._post(self.payload(message), params=params)
        if isinstance(result, SendResult):
            return result
        outcome = classify_http(result)
        if outcome.status != "sent":
            return outcome
        try:
            body = result.json()
        except ValueError:
            return SendResult("retry", f"not JSON: {result.text[:200]}")
        code = int(body.get("errcode", 0)) if isinstance(body, dict) else 0
        if code == 0:
            return SendResult("sent")
        error = f"wechat errcode {code}: {body.get('errmsg', '')}"
        return SendResult("retry" if code in WECHAT_RETRY else "failed", error)


class WebhookAdapter(_HttpAdapter):
    """A department's webhook (催办 / 督办 notices): JSON with the case and the text."""

    name = "webhook"

    async def send(self, message: Message) -> SendResult:
        result = await self._post(
            {
                "department": message.recipient,
                "case_id": message.case_id,
                "tracking_code": message.tracking_code,
                "template": message.template,
                "text": message.body,
                "message_id": message.id,
            }
        )
        return result if isinstance(result, SendResult) else classify_http(result)


class Adapters:
    """Picks the adapter for a message: the provider when configured, else the development sink."""

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.notify_send_timeout_s)
        self.sink = DevelopmentSink()
        self.sms: ChannelAdapter = (
            SmsAdapter(self.client, settings.sms_url, api_key=settings.sms_api_key, sign=settings.sms_sign)
            if settings.sms_url
            else self.sink
        )
        self.wechat: ChannelAdapter = (
            WeChatTemplateAdapter(
                self.client,
                settings.wechat_api_url,
                access_token=settings.wechat_access_token,
                template_id=settings.wechat_template_id,
            )
            if settings.wechat_api_url
            else self.sink
        )

    def for_message(self, message: Message) -> ChannelAdapter:
        if message.channel == "sms":
            return self.sms
        if message.channel == "wechat":
            return self.wechat
        if message.channel == "webhook":
            url = self.settings.notify_webhook_urls.get(message.recipient) or self.settings.notify_webhook_default_url
            return WebhookAdapter(self.client, url) if url else self.sink
        return self.sink

    async def aclose(self) -> None:
        await self.client.aclose()
