"""What each WeChat message does: create a complaint, supplement one, or just answer.

Every accepted message is recorded in ``wechat_messages`` with the reply it got, in the same
transaction as its effects, so a WeChat retry (same ``MsgId``) gets the same reply and no new effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channels.app.common import enrich, supplement_complaint
from services.intake.channels.wechat import replies
from services.intake.channels.wechat.models import MediaFetch, WechatMessage
from services.intake.channels.wechat.parse import InboundMessage
from services.intake.complaint import service as complaints
from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import MAX_TEXT, ComplaintDraft
from services.intake.places import ExtractedAddress, default_places, gcj02_to_wgs84
from services.intake.places.text import normalize_address
from shared.app import ServiceRuntime
from shared.events.complaints import Attachment, GeoPoint, Reporter

ENRICH_TIMEOUT_S = 2.5
IMAGE_ONLY_TEXT = "（市民通过微信发送图片反映问题，暂无文字说明）"
# what may surround an address typed as the answer to "请发送位置" (我在…这边, 地址是…)
_ADDRESS_FILLER = re.compile(
    r"我家在|我住在|我在|就在|在|位置是?|地址是?|地点是?|具体位置|就是|是|这边|那边|这里|那里|这儿|那儿|"
    r"您好|你好|谢谢|麻烦|请|嗯|的|了|啊|哈|嘛|哦|呢|吧|呀"
)


@dataclass
class Outcome:
    reply: str | None  # None: answer "success" (nothing to say)
    action: str
    complaint_id: str | None = None
    needs_location: bool = False
    created: bool = False  # a complaint or a supplement was staged in the outbox


async def handle(session: AsyncSession, runtime: ServiceRuntime | None, msg: InboundMessage) -> Outcome:
    """Apply one message (idempotent by its key); the caller commits."""
    seen = await session.get(WechatMessage, msg.key)
    if seen is not None:
        return Outcome(seen.reply or None, "replay", seen.complaint_id, seen.needs_location)
    outcome = await _apply(session, runtime, msg)
    stmt = (
        insert(WechatMessage)
        .values(
            msg_key=msg.key,
            openid=msg.from_user,
            msg_type=msg.msg_type,
            action=outcome.action,
            complaint_id=outcome.complaint_id,
            needs_location=outcome.needs_location,
            reply=outcome.reply or "",
        )
        .on_conflict_do_nothing(index_elements=["msg_key"])
        .returning(WechatMessage.msg_key)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is None:
        # A concurrent retry of the same message won; drop our effects and answer like it did.
        await session.rollback()
        seen = await session.get(WechatMessage, msg.key)
        assert seen is not None
        return Outcome(seen.reply or None, "replay", seen.complaint_id, seen.needs_location)
    return outcome


async def _apply(session: AsyncSession, runtime: ServiceRuntime | None, msg: InboundMessage) -> Outcome:
    window = _window(runtime)
    if msg.msg_type == "event":
        if msg.event == "subscribe":
            return Outcome(replies.WELCOME, "welcome")
        return Outcome(None, "ignored")
    if msg.msg_type == "text":
        return await _text(session, runtime, msg, (msg.content or "").strip())
    if msg.msg_type == "voice":
        if not msg.recognition or not msg.recognition.strip():
            return Outcome(replies.ASK_TEXT_FOR_VOICE, "need_text")
        return await _text(session, runtime, msg, msg.recognition.strip())
    if msg.msg_type == "image":
        return await _image(session, runtime, msg, window)
    if msg.msg_type == "location":
        return await _location(session, msg, window)
    return Outcome(replies.UNSUPPORTED, "unsupported")


def _draft(msg: InboundMessage, text: str) -> ComplaintDraft:
    return ComplaintDraft(
        channel="wechat",
        channel_key=msg.key,
        text=text[:MAX_TEXT],
        reporter=Reporter(wechat_openid=msg.from_user),
        received_at=datetime.now(UTC),
    )


def _window(runtime: ServiceRuntime | None) -> timedelta:
    return timedelta(seconds=runtime.settings.wechat_location_window_s if runtime else 1800)


def address_follow_up(text: str) -> ExtractedAddress | None:
    """The text is only an address that resolves (``我在双林路66号这边``): the answer to "请发送位置", not a
    new complaint. None when it says anything else."""
    found = default_places().extract(text)
    if found is None or found.match.status != "resolved":
        return None
    rest = normalize_address(text).casefold().replace(found.text, "", 1)
    return found if len(_ADDRESS_FILLER.sub("", rest)) <= 1 else None


async def _text(session: AsyncSession, runtime: ServiceRuntime | None, msg: InboundMessage, text: str) -> Outcome:
    if not text:
        return Outcome(replies.EMPTY_TEXT, "need_text")
    if (found := address_follow_up(text)) is not None:
        pending = await _pending_location(session, msg.from_user, _window(runtime))
        complaint = await session.get(Complaint, pending.complaint_id, with_for_update=True) if pending else None
        if pending is not None and complaint is not None:
            event = await supplement_complaint(session, complaint, address=found.text)
            pending.needs_location = not (event.place and event.place.grid_code)
            place = event.place.grid_name or event.place.street_name if event.place else None
            reply = replies.address_added(complaint.tracking_code, place)
            return Outcome(reply, "supplemented", complaint.id, pending.needs_location, created=True)
    draft = await enrich(runtime, _draft(msg, text), timeout_s=ENRICH_TIMEOUT_S)
    complaint, created = await complaints.create_complaint(session, draft)
    needs_location = complaint.lon is None and complaint.grid_code is None
    emergency = (complaint.emergency or {}).get("service")
    place_name = (complaint.place or {}).get("grid_name") if complaint.address_status == "resolved" else None
    reply = replies.accepted(
        complaint.tracking_code, ask_location=needs_location, emergency=emergency, place_name=place_name
    )
    return Outcome(reply, "created", complaint.id, needs_location, created)


def _image_attachment(msg: InboundMessage) -> Attachment:
    return Attachment(url=msg.pic_url or f"wechat-media:{msg.media_id}", content_type="image/jpeg")


async def _recent_complaint(session: AsyncSession, openid: str, window: timedelta) -> Complaint | None:
    since = datetime.now(UTC) - window
    stmt = (
        select(WechatMessage.complaint_id)
        .where(
            WechatMessage.openid == openid,
            WechatMessage.complaint_id.is_not(None),
            WechatMessage.created_at >= since,
        )
        .order_by(WechatMessage.created_at.desc())
        .limit(1)
    )
    complaint_id = (await session.execute(stmt)).scalar_one_or_none()
    return await session.get(Complaint, complaint_id, with_for_update=True) if complaint_id else None


async def _image(
    session: AsyncSession, runtime: ServiceRuntime | None, msg: InboundMessage, window: timedelta
) -> Outcome:
    attachment = _image_attachment(msg)
    recent = await _recent_complaint(session, msg.from_user, window)
    if recent is not None:
        await supplement_complaint(session, recent, attachments=[attachment])
        _queue_fetch(session, recent.id, msg)
        return Outcome(
            replies.image_accepted(recent.tracking_code, new=False, ask_location=False),
            "supplemented",
            recent.id,
            created=True,
        )
    draft = _draft(msg, IMAGE_ONLY_TEXT).model_copy(update={"attachments": [attachment]})
    draft = await enrich(runtime, draft, timeout_s=ENRICH_TIMEOUT_S)
    complaint, created = await complaints.create_complaint(session, draft)
    if created:
        _queue_fetch(session, complaint.id, msg)
    needs_location = complaint.lon is None
    reply = replies.image_accepted(complaint.tracking_code, new=True, ask_location=needs_location)
    return Outcome(reply, "created", complaint.id, needs_location, created)


def _queue_fetch(session: AsyncSession, complaint_id: str, msg: InboundMessage) -> None:
    """The photo itself is fetched later (WeChat media download), never inside the 5 s reply."""
    session.add(MediaFetch(complaint_id=complaint_id, channel="wechat", media_id=msg.media_id, url=msg.pic_url))


async def _pending_location(session: AsyncSession, openid: str, window: timedelta) -> WechatMessage | None:
    """The citizen's latest message still waiting for a location (within the window), locked."""
    since = datetime.now(UTC) - window
    stmt = (
        select(WechatMessage)
        .where(
            WechatMessage.openid == openid,
            WechatMessage.needs_location.is_(True),
            WechatMessage.created_at >= since,
        )
        .order_by(WechatMessage.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _location(session: AsyncSession, msg: InboundMessage, window: timedelta) -> Outcome:
    assert msg.lon is not None and msg.lat is not None
    lon, lat = gcj02_to_wgs84(msg.lon, msg.lat)
    point = GeoPoint(lon=round(lon, 7), lat=round(lat, 7), source="wechat-gcj02")
    pending = await _pending_location(session, msg.from_user, window)
    complaint = await session.get(Complaint, pending.complaint_id, with_for_update=True) if pending else None
    if pending is None or complaint is None:
        return Outcome(replies.ASK_TEXT_FOR_LOCATION, "location_only")
    if default_places().check_point(point.lon, point.lat).outside_district:
        # never attach a point outside the district: the complaint keeps waiting for a usable location
        return Outcome(replies.LOCATION_OUTSIDE, "location_outside", complaint.id, needs_location=False)
    event = await supplement_complaint(session, complaint, location=point, address=msg.label)
    pending.needs_location = False
    place_name = event.place.grid_name if event.place else None
    return Outcome(
        replies.location_added(complaint.tracking_code, place_name), "supplemented", complaint.id, created=True
    )
