"""``/wechat/callback``: the official account's server URL (plain and safe/AES modes).

WeChat's expectations: answer within 5 s; ``success`` (or an empty body) when there is nothing to say;
a passive reply is text-message XML (encrypted in safe mode). Bad signatures are refused with 403 and
malformed bodies with 400, before anything is stored. Replays are refused with 403 too (plain text, like
every refusal here: WeChat shows no body, it only sees that it was not ``success``): a timestamp more than
``LINKAGE_WECHAT_TIMESTAMP_WINDOW_S`` from our clock, or a (nonce, timestamp) pair accepted before
(:mod:`.replay`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from services.intake.channels.wechat import replay, replies
from services.intake.channels.wechat.crypto import DecryptError, SafeMode, SignatureError, check_signature
from services.intake.channels.wechat.parse import MAX_XML_BYTES, XmlError, parse_message, parse_xml
from services.intake.channels.wechat.service import handle
from shared.access import public
from shared.app import RuntimeDep, SessionDep
from shared.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["wechat"])

Param = Annotated[str, Query(max_length=128)]


_TEXT = {"text/plain": {"schema": {"type": "string"}}}
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "missing parameters, or a message that cannot be parsed or decrypted", "content": _TEXT},
    403: {"description": "bad signature, timestamp outside the window, or a replayed nonce", "content": _TEXT},
}
MESSAGE_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}},
    "responses": {
        "200": {
            "description": "`success`, or the passive reply (XML)",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        "413": {
            "description": "body over the WeChat limit",
            "content": {**_TEXT, "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        },
    },
}


def _refuse(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status)


def _safe_mode(runtime: RuntimeDep) -> SafeMode:
    s = runtime.settings
    return SafeMode(s.wechat_token, s.wechat_aes_key, s.wechat_appid)


@router.get(
    "/wechat/callback",
    response_class=PlainTextResponse,
    responses=REFUSALS,
    openapi_extra=public("credential in the query: WeChat signature, ±300 s timestamp"),
)
async def verify(
    runtime: RuntimeDep,
    signature: Param = "",
    timestamp: Param = "",
    nonce: Param = "",
    echostr: Annotated[str, Query(max_length=1024)] = "",
    msg_signature: Param = "",
) -> Response:
    """Server URL verification: echo ``echostr`` when the signature holds (safe mode: decrypt it first)."""
    if not (timestamp and nonce and echostr and (signature or msg_signature)):
        return _refuse(400, "missing signature, timestamp, nonce or echostr")
    try:
        replay.check_timestamp(timestamp, runtime.settings.wechat_timestamp_window_s)
    except replay.ReplayError as exc:
        return _refuse(403, str(exc))
    if msg_signature:
        try:
            return PlainTextResponse(_safe_mode(runtime).decrypt_echo(echostr, msg_signature, timestamp, nonce))
        except SignatureError:
            return _refuse(403, "invalid signature")
        except DecryptError as exc:
            return _refuse(400, str(exc))
    if not check_signature(runtime.settings.wechat_token, signature, timestamp, nonce):
        return _refuse(403, "invalid signature")
    return PlainTextResponse(echostr)


@router.post(
    "/wechat/callback",
    response_class=PlainTextResponse,
    responses=REFUSALS,
    openapi_extra={
        **public("credential in the query: WeChat signature, timestamp window, single-use nonce"),
        **MESSAGE_DOC,
    },
)
async def callback(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    signature: Param = "",
    timestamp: Param = "",
    nonce: Param = "",
    encrypt_type: Annotated[str, Query(max_length=16)] = "raw",
    msg_signature: Param = "",
) -> Response:
    """A message or event from WeChat; the response is the passive reply (or ``success``)."""
    settings = runtime.settings
    if not (signature and timestamp and nonce):
        return _refuse(403, "missing signature")
    if not check_signature(settings.wechat_token, signature, timestamp, nonce):
        return _refuse(403, "invalid signature")
    try:
        sent_at = replay.check_timestamp(timestamp, settings.wechat_timestamp_window_s)
    except replay.ReplayError as exc:
        return _refuse(403, str(exc))
    limit = min(settings.wechat_max_body_bytes, MAX_XML_BYTES)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _refuse(413, f"body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return _refuse(413, f"body exceeds {limit} bytes")
    safe = encrypt_type.lower() == "aes"
    crypto = _safe_mode(runtime) if safe else None
    try:
        fields = parse_xml(bytes(body))
        if crypto is not None:
            encrypt = fields.get("Encrypt")
            if not encrypt:
                raise XmlError("missing Encrypt")
            if not msg_signature:
                return _refuse(403, "missing msg_signature")
            fields = parse_xml(crypto.decrypt(encrypt, msg_signature, timestamp, nonce).encode())
        msg = parse_message(fields)
    except SignatureError:
        return _refuse(403, "invalid msg_signature")
    except (XmlError, DecryptError) as exc:
        return _refuse(400, f"bad message: {exc}")
    try:  # committed with the message's effects below
        await replay.remember(session, nonce, sent_at, settings.wechat_timestamp_window_s, bytes(body))
    except replay.ReplayError as exc:
        return _refuse(403, str(exc))
    outcome = await handle(session, runtime, msg)
    await session.commit()
    if outcome.created:
        runtime.relay.wake()
    log.info("wechat message", action=outcome.action, msg_type=msg.msg_type, complaint_id=outcome.complaint_id)
    if outcome.reply is None:
        return PlainTextResponse("success")
    xml = replies.text_reply(msg.from_user, msg.to_user, outcome.reply, int(time.time()))
    if crypto is not None:
        xml = crypto.encrypt(xml, nonce, str(int(time.time())))
    return Response(xml, media_type="application/xml")
