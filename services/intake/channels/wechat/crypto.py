"""WeChat callback signatures and safe-mode (AES) crypto, the latter delegated to ``wechatpy``.

- plain signature: ``sha1(sorted([token, timestamp, nonce]))`` in the ``signature`` query parameter;
- safe mode: ``msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]))`` and the ``Encrypt``
  payload AES-256-CBC under the account's EncodingAESKey, ending in the AppID.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException


class SignatureError(Exception):
    """Signature or AppID does not match: the request is not from our account (403)."""


class DecryptError(Exception):
    """The encrypted payload is malformed (400)."""


def make_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8", "surrogatepass")).hexdigest()


def _same_signature(expected: str, given: str) -> bool:
    # compare bytes: hmac.compare_digest refuses str with non-ASCII characters (a 500 on garbage input)
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "surrogatepass"))


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    return _same_signature(make_signature(token, timestamp, nonce), signature)


class SafeMode:
    """Encrypt/decrypt for one official account (token, EncodingAESKey of 43 characters, AppID)."""

    def __init__(self, token: str, aes_key: str, appid: str) -> None:
        if len(aes_key) != 43:
            raise ValueError("the WeChat EncodingAESKey must be 43 characters")
        self.token = token
        self.appid = appid
        self._crypto = WeChatCrypto(token, aes_key, appid)

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """The inner XML of an encrypted message (signature checked first)."""
        if not _same_signature(make_signature(self.token, timestamp, nonce, encrypt), msg_signature):
            raise SignatureError("msg_signature does not match")
        try:
            xml: str = self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except InvalidSignatureException as exc:
            raise SignatureError("msg_signature does not match") from exc
        except InvalidAppIdException as exc:
            raise SignatureError("message is for another AppID") from exc
        except (ValueError, binascii.Error, UnicodeDecodeError, IndexError) as exc:
            raise DecryptError(f"cannot decrypt: {exc.__class__.__name__}") from exc
        return xml

    def decrypt_echo(self, echostr: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Safe-mode URL verification: check ``msg_signature`` over the echostr and decrypt it."""
        if not _same_signature(make_signature(self.token, timestamp, nonce, echostr), msg_signature):
            raise SignatureError("msg_signature does not match")
        try:
            text: str = PrpCrypto(self._crypto.key).decrypt(echostr, self.appid)
        except InvalidAppIdException as exc:
            raise SignatureError("echostr is for another AppID") from exc
        except (ValueError, binascii.Error, UnicodeDecodeError, IndexError) as exc:
            raise DecryptError(f"cannot decrypt echostr: {exc.__class__.__name__}") from exc
        return text

    def encrypt(self, xml: str, nonce: str, timestamp: str) -> str:
        """The encrypted reply envelope (``Encrypt``, ``MsgSignature``, ``TimeStamp``, ``Nonce``)."""
        out: str = self._crypto.encrypt_message(xml, nonce, timestamp)
        return out
