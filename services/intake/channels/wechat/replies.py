"""Passive replies (被动回复) in Chinese, rendered as WeChat text-message XML."""

from __future__ import annotations

import time

WELCOME = (
    "欢迎关注大联动12345！直接发送文字或语音即可反映问题、咨询政策；"
    "可附上照片，并发送“位置”帮助我们更快派单。紧急情况请直接拨打110、119、120或122。"
)
ASK_LOCATION = "请发送位置，以便我们更快派单（点击输入框旁的“+”，选择“位置”）。"
ASK_TEXT_FOR_VOICE = "抱歉，未能识别您的语音，请直接输入文字描述您要反映的问题。"
ASK_TEXT_FOR_LOCATION = "已收到您的位置。请先用文字描述您要反映的问题，再发送位置，我们会尽快受理。"
UNSUPPORTED = "目前支持文字、语音、图片和位置消息，请用文字描述您要反映的问题。"
EMPTY_TEXT = "请用文字描述您要反映的问题。"
LOCATION_OUTSIDE = (
    "您发送的位置不在本区范围内，无法据此派单。请重新发送问题所在的位置，"
    "或直接输入详细地址（路名门牌号、小区楼栋或附近地标）。"
)


def accepted(
    tracking_code: str, *, ask_location: bool, emergency: str | None = None, place_name: str | None = None
) -> str:
    parts = []
    if emergency:
        parts.append(f"如情况紧急，请立即拨打{emergency}！")
    parts.append(f"您的诉求已受理，受理编号：{tracking_code}。可凭编号查询办理进度。")
    if place_name:
        parts.append(f"已识别问题地点：{place_name}。")
    if ask_location:
        parts.append(ASK_LOCATION)
    return "".join(parts)


def image_accepted(tracking_code: str, *, new: bool, ask_location: bool) -> str:
    if not new:
        return f"已收到图片，已补充到受理编号 {tracking_code} 的诉求中。"
    text = f"已收到您的图片，受理编号：{tracking_code}。请用文字补充说明问题。"
    return text + (ASK_LOCATION if ask_location else "")


def location_added(tracking_code: str, place_name: str | None) -> str:
    where = f"（{place_name}）" if place_name else ""
    return f"已收到位置{where}，已补充到受理编号 {tracking_code} 的诉求中，我们将尽快派单。"


def address_added(tracking_code: str, place_name: str | None) -> str:
    where = f"（{place_name}）" if place_name else ""
    return f"已收到地址{where}，已补充到受理编号 {tracking_code} 的诉求中，我们将尽快派单。"


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """A passive text reply: ``to_user`` is the citizen's OpenID, ``from_user`` the account."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )
