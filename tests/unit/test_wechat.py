"""WeChat callback pieces: signatures, wechatpy's published crypto vectors, hardened XML, replies."""

from __future__ import annotations

import pytest
import wechatpy.crypto
from defusedxml.ElementTree import fromstring

from services.intake.channels.wechat import replies
from services.intake.channels.wechat.crypto import (
    DecryptError,
    SafeMode,
    SignatureError,
    check_signature,
    make_signature,
)
from services.intake.channels.wechat.parse import MAX_XML_BYTES, XmlError, parse_message, parse_xml

# wechatpy's own test vectors (tests/test_crypto.py): token, EncodingAESKey, AppID/CorpID
TOKEN = "123456"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APPID = "wx49f0ab532d5d035a"
VECTOR_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6y"
    "dJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/T"
    "ywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5"
    "t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
VECTOR_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
VECTOR_TIMESTAMP = "1411525903"
VECTOR_NONCE = "461056294"
VECTOR_ECHO = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
VECTOR_ECHO_SIGNATURE = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
VECTOR_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
VECTOR_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesE"
    "l5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsD"
    "f03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nT"
    "YjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
VECTOR_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"


def test_plain_signature_is_sha1_of_sorted_parts() -> None:
    sig = make_signature("tok", "1700000000", "42")
    assert check_signature("tok", sig, "1700000000", "42")
    assert check_signature("tok", sig.upper(), "1700000000", "42")
    assert not check_signature("tok", sig, "1700000000", "43")
    assert not check_signature("other", sig, "1700000000", "42")


def test_wechatpy_vector_decrypt_message() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APPID)
    xml = safe.decrypt(VECTOR_ENCRYPT, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE)
    msg = parse_xml(xml.encode())
    assert msg["Content"] == "test"
    assert msg["FromUserName"] == "messense"


def test_wechatpy_vector_decrypt_refuses_bad_signature_and_other_appid() -> None:
    with pytest.raises(SignatureError):
        SafeMode(TOKEN, AES_KEY, APPID).decrypt(VECTOR_ENCRYPT, "0" * 40, VECTOR_TIMESTAMP, VECTOR_NONCE)
    with pytest.raises(SignatureError):
        SafeMode(TOKEN, AES_KEY, "wx0000000000000000").decrypt(
            VECTOR_ENCRYPT, VECTOR_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE
        )


def test_wechatpy_vector_echostr() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APPID)
    echo = safe.decrypt_echo(VECTOR_ECHO, VECTOR_ECHO_SIGNATURE, "1411443780", "437374425")
    assert echo  # the vector's plain echostr (a numeric string)
    assert echo.isdigit()
    with pytest.raises(SignatureError):
        safe.decrypt_echo(VECTOR_ECHO, VECTOR_ECHO_SIGNATURE, "1411443780", "437374424")


def test_wechatpy_vector_encrypt_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    class FixedRandom(wechatpy.crypto.PrpCrypto):
        def get_random_string(self) -> str:
            return "1234567890123456"

    monkeypatch.setattr(wechatpy.crypto, "PrpCrypto", FixedRandom)
    out = SafeMode(TOKEN, AES_KEY, APPID).encrypt(VECTOR_REPLY, VECTOR_NONCE, VECTOR_TIMESTAMP)
    envelope = parse_xml(out.encode())
    assert envelope["Encrypt"] == VECTOR_REPLY_ENCRYPT
    assert envelope["MsgSignature"] == VECTOR_REPLY_SIGNATURE


def test_round_trip_with_demo_key() -> None:
    safe = SafeMode("linkage-demo-token", "TGlua2FnZURlbW9BRVNLZXkwMTIzNDU2Nzg5YWJjZGU", "wx6c696e6b61676501")
    reply = replies.text_reply("openid-1", "gh_demo", "您的诉求已受理", 1700000000)
    envelope = parse_xml(safe.encrypt(reply, "99", "1700000000").encode())
    inner = safe.decrypt(envelope["Encrypt"], envelope["MsgSignature"], "1700000000", "99")
    assert parse_xml(inner.encode())["Content"] == "您的诉求已受理"


def test_garbage_ciphertext_is_a_decrypt_error() -> None:
    safe = SafeMode(TOKEN, AES_KEY, APPID)
    garbage = "bm90IGVuY3J5cHRlZA=="
    with pytest.raises((DecryptError, SignatureError)):
        safe.decrypt(garbage, make_signature(TOKEN, "1", "2", garbage), "1", "2")


TEXT_XML = b"""<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><FromUserName><![CDATA[o-user]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[\xe4\xba\x95\xe7\x9b\x96\xe5\x9d\x8f\xe4\xba\x86]]></Content>
<MsgId>1234567890123456</MsgId></xml>"""


def test_parse_text_message() -> None:
    msg = parse_message(parse_xml(TEXT_XML))
    assert (msg.msg_type, msg.content, msg.key, msg.from_user) == ("text", "井盖坏了", "1234567890123456", "o-user")


def test_parse_location_voice_image_and_event() -> None:
    head = "<ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime>"
    loc = parse_message(
        parse_xml(
            f"<xml>{head}<MsgType>location</MsgType><Location_X>30.6752</Location_X><Location_Y>104.1035</Location_Y>"
            "<Scale>15</Scale><Label>建设路</Label><MsgId>11</MsgId></xml>".encode()
        )
    )
    assert (loc.lat, loc.lon, loc.label) == (30.6752, 104.1035, "建设路")
    voice = parse_message(
        parse_xml(
            f"<xml>{head}<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format>"
            "<Recognition>路灯不亮</Recognition><MsgId>12</MsgId></xml>".encode()
        )
    )
    assert voice.recognition == "路灯不亮"
    image = parse_message(
        parse_xml(
            f"<xml>{head}<MsgType>image</MsgType><PicUrl>http://mmbiz/x.jpg</PicUrl><MediaId>m1</MediaId>"
            "<MsgId>13</MsgId></xml>".encode()
        )
    )
    assert (image.pic_url, image.media_id) == ("http://mmbiz/x.jpg", "m1")
    event = parse_message(parse_xml(f"<xml>{head}<MsgType>event</MsgType><Event>subscribe</Event></xml>".encode()))
    assert event.event == "subscribe"
    assert event.key == "u:1700000000:subscribe"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"<xml><ToUserName>gh</ToUserName>", "malformed"),
        (b"<root/>", "root element"),
        (b"<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>", "ToUserName"),
        (
            b"<xml><ToUserName>g</ToUserName><FromUserName>u</FromUserName><CreateTime>x</CreateTime>"
            b"<MsgType>text</MsgType><MsgId>1</MsgId></xml>",
            "CreateTime",
        ),
        (
            b"<xml><ToUserName>g</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>text</MsgType></xml>",
            "MsgId",
        ),
        (
            b"<xml><ToUserName>g</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>location</MsgType><Location_X>north</Location_X><Location_Y>1</Location_Y><MsgId>1</MsgId></xml>",
            "Location_X",
        ),
        (
            b"<xml><ToUserName>g</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>location</MsgType><Location_X>95</Location_X><Location_Y>1</Location_Y><MsgId>1</MsgId></xml>",
            "out of range",
        ),
    ],
)
def test_bad_messages_name_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(XmlError, match=problem):
        parse_message(parse_xml(body))


def test_hardened_parser_refuses_dtd_and_entities() -> None:
    billion_laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<xml><Content>&lol2;</Content></xml>"""
    with pytest.raises(XmlError, match="forbidden"):
        parse_xml(billion_laughs)
    external = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><C>&e;</C></xml>"""
    with pytest.raises(XmlError, match="forbidden"):
        parse_xml(external)
    bare_dtd = b"""<?xml version="1.0"?><!DOCTYPE xml><xml><C>x</C></xml>"""
    with pytest.raises(XmlError, match="forbidden"):
        parse_xml(bare_dtd)


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(XmlError, match="exceeds"):
        parse_xml(b"<xml><Content>" + b"a" * MAX_XML_BYTES + b"</Content></xml>")


def test_text_reply_is_wechat_xml_and_escapes_cdata() -> None:
    xml = replies.text_reply("openid-1", "gh_demo", "编号：ABC ]]> 结束", 1700000000)
    root = fromstring(xml)
    assert root.findtext("ToUserName") == "openid-1"
    assert root.findtext("FromUserName") == "gh_demo"
    assert root.findtext("MsgType") == "text"
    assert root.findtext("Content") == "编号：ABC ]]> 结束"
    assert root.findtext("CreateTime") == "1700000000"


def test_reply_texts_are_chinese_and_carry_the_code() -> None:
    text = replies.accepted("261124K7Q2PX", ask_location=True)
    assert "261124K7Q2PX" in text
    assert "请发送位置" in text
    assert "261124K7Q2PX" not in replies.WELCOME
    assert "120" in replies.accepted("X", ask_location=False, emergency="120")
    assert "请发送位置" not in replies.accepted("X", ask_location=False)
