"""Which errors are infrastructure faults (retried until the infrastructure is back) and which are the input's."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.faults import Backoff, is_infrastructure_error


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError("refused"),
        TimeoutError(),
        KafkaConnectionError("broker"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        DBAPIError("SELECT 1", {}, _Orig("57P01"), connection_invalidated=False),  # admin shutdown
        DBAPIError("SELECT 1", {}, _Orig("08006"), connection_invalidated=False),  # connection failure
        DBAPIError("SELECT 1", {}, _Orig("40P01"), connection_invalidated=False),  # deadlock: try again
        DBAPIError("SELECT 1", {}, _Orig("XX000"), connection_invalidated=True),
        OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    ],
)
def test_faults(exc: BaseException) -> None:
    assert is_infrastructure_error(exc)


def test_a_fault_raised_from_a_fault_is_a_fault() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("could not apply batch") from inner
    except RuntimeError as outer:
        assert is_infrastructure_error(outer)


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("case"),
        ValueError("bad payload"),
        IntegrityError("INSERT", {}, _Orig("23505")),
        DBAPIError("INSERT", {}, _Orig("22P02"), connection_invalidated=False),  # invalid text representation
    ],
)
def test_the_inputs_fault(exc: BaseException) -> None:
    assert not is_infrastructure_error(exc)


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=0.5, cap=3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
