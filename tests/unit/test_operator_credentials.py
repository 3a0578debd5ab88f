"""Operator passwords and keys are stored salted/hashed; console session cookies refuse tampering and expiry;
tracking codes carry >= 60 random bits and citizen secrets are checked against their hash only."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.complaint import service as complaints
from services.intake.complaint.models import Complaint
from services.intake.operators import service
from services.intake.operators.sessions import read_session, sign_session

SECRET = "unit-test-session-secret"
LIFETIME = timedelta(hours=12)


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = service.hash_password("correct horse"), service.hash_password("correct horse")
    assert first.startswith("scrypt$") and first != second  # a fresh salt each time
    assert "correct horse" not in first
    assert service.verify_password("correct horse", first) and service.verify_password("correct horse", second)
    assert not service.verify_password("correct horsE", first)
    assert not service.verify_password("", first)


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$1$2", "bcrypt$a$b$c$d$e", "scrypt$x$8$1$AA$AA"])
def test_malformed_password_hashes_never_verify(stored: str | None) -> None:
    assert not service.verify_password("anything", stored)


def test_api_keys_are_random_and_stored_as_sha256() -> None:
    keys = {service.new_api_key() for _ in range(50)}
    assert len(keys) == 50 and all(k.startswith("lko_") and len(k) >= 40 for k in keys)
    key = keys.pop()
    assert re.fullmatch(r"[0-9a-f]{64}", service.hash_key(key)) and key not in service.hash_key(key)
    assert service.hash_key(key) == service.hash_key(key) != service.hash_key(key + "x")


@pytest.mark.parametrize(
    ("username", "role", "password"),
    [("A", "operator", None), ("Bad Name", "operator", None), ("ok", "boss", None), ("ok", "operator", "short")],
)
def test_account_checks(username: str, role: str, password: str | None) -> None:
    with pytest.raises(ValueError):
        service.check_account(username, role, password)


def test_session_cookie_round_trip() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    value = sign_session(SECRET, 42, lifetime=LIFETIME, now=now)
    session = read_session(SECRET, value, now=now + timedelta(hours=1))
    assert session is not None and session.operator_id == 42
    assert session.expires_at == now + LIFETIME and abs((session.issued_at - now).total_seconds()) < 1e-3


def test_expired_session_cookie_is_refused() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    value = sign_session(SECRET, 42, lifetime=LIFETIME, now=now)
    assert read_session(SECRET, value, now=now + LIFETIME - timedelta(seconds=1)) is not None
    assert read_session(SECRET, value, now=now + LIFETIME) is None


def _tamper(value: str, part: int, new: str) -> str:
    parts = value.split(".")
    parts[part] = new
    return ".".join(parts)


def test_tampered_session_cookies_are_refused() -> None:
    now = datetime.now(UTC)
    value = sign_session(SECRET, 42, lifetime=LIFETIME, now=now)
    far_future = str(int((now + timedelta(days=3650)).timestamp()))
    forged = [
        _tamper(value, 1, "1"),  # another operator
        _tamper(value, 3, far_future),  # a longer life
        _tamper(value, 4, "A" * 43),  # a made-up signature
        value[:-1] + ("A" if value[-1] != "A" else "B"),
        value.rpartition(".")[0],  # no signature
        "v1.42.1.9999999999." + value.rpartition(".")[2],
        "",
        "garbage",
    ]
    for bad in forged:
        assert read_session(SECRET, bad, now=now) is None, bad
    assert read_session("another-secret", value, now=now) is None  # rotated secret ends every session


def test_tracking_code_has_at_least_60_random_bits() -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    codes = [complaints.new_tracking_code(now) for _ in range(2000)]
    alphabet = set(complaints._CODE_ALPHABET)
    for code in codes:
        assert code.startswith("261125") and len(code) <= 20  # fits every VARCHAR(20) tracking_code column
        assert set(code[6:]) <= alphabet
    random_part = len(codes[0]) - 6
    assert random_part * math.log2(len(alphabet)) >= 60
    assert len(set(codes)) == len(codes)
    # every position varies (no fixed filler padding out the length)
    for i in range(6, len(codes[0])):
        assert len({c[i] for c in codes}) > 16


def test_citizen_secret_checks_against_its_hash_only() -> None:
    secret = complaints.new_citizen_secret()
    assert len(secret) >= 8
    complaint = Complaint(id="01JTEST", reporter_phone="138-0013-8000")
    complaint.citizen_secret_hash = complaints.citizen_secret_hash(complaint.id, secret)
    assert secret not in complaint.citizen_secret_hash
    assert complaints.check_citizen_secret(complaint, secret)
    assert complaints.check_citizen_secret(complaint, f" {secret.lower()} ")  # read out over the phone
    assert not complaints.check_citizen_secret(complaint, secret[:-1] + ("2" if secret[-1] != "2" else "3"))
    assert not complaints.check_citizen_secret(complaint, None)
    other = Complaint(id="01JOTHER", citizen_secret_hash=complaint.citizen_secret_hash)
    assert not complaints.check_citizen_secret(other, secret)  # the hash is bound to its complaint
    assert complaints.check_phone_last4(complaint, "8000")
    for bad in ("0000", "800", "38000", "", None, "80a0"):
        assert not complaints.check_phone_last4(complaint, bad)
    assert not complaints.check_phone_last4(Complaint(id="x", reporter_phone=None), "0000")
