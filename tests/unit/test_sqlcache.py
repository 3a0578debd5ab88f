"""ON CONFLICT inserts are cached by SQLAlchemy (shared/sqlcache.py) without two different statements ever
sharing a compiled form."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert

import shared.db  # noqa: F401 - installs the cache keys
from shared import sqlcache

pytestmark = pytest.mark.unit

_t = Table(
    "t",
    MetaData(),
    Column("a", Integer, primary_key=True),
    Column("b", String(5)),
    Column("n", Integer),
    Column("d", DateTime(timezone=True)),
)


def _key(stmt: object) -> object:
    key = stmt._generate_cache_key()  # type: ignore[attr-defined]
    assert key is not None, "not cacheable"
    return key.key


def _sql(stmt: object) -> str:
    return str(stmt.compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined]


def _variants() -> list[object]:
    ex = insert(_t).excluded
    return [
        insert(_t),
        insert(_t).on_conflict_do_nothing(),
        insert(_t).on_conflict_do_nothing(index_elements=["a"]),
        insert(_t).on_conflict_do_nothing(index_elements=["b"]),
        insert(_t).on_conflict_do_nothing(index_elements=[_t.c.a, _t.c.b]),
        insert(_t).on_conflict_do_nothing(constraint="uq_t"),
        insert(_t).on_conflict_do_nothing(index_elements=["a"], index_where=_t.c.n > 3),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"n": _t.c.n + 1}),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"b": "x"}),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"n": ex.n}),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"n": ex.n}, where=_t.c.n < 5),
        insert(_t).on_conflict_do_update(index_elements=["b"], set_={"n": ex.n}),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"n": ex.n, "b": ex.b}),
        insert(_t).on_conflict_do_update(index_elements=["a"], set_={"d": func.now()}),
        insert(_t).on_conflict_do_nothing().returning(_t.c.a),
    ]


def test_every_on_conflict_insert_has_a_cache_key_of_its_own() -> None:
    variants = _variants()
    keys = [_key(s) for s in variants]
    sql = [_sql(s) for s in variants]
    assert len(set(sql)) == len(variants)
    for i in range(len(variants)):
        for j in range(len(variants)):
            if i != j:
                assert keys[i] != keys[j], (sql[i], sql[j])


def test_the_same_statement_built_twice_shares_its_key_and_literals_are_parameters() -> None:
    for a, b in zip(_variants(), _variants(), strict=True):
        assert _key(a) == _key(b)
    x = insert(_t).on_conflict_do_update(index_elements=["a"], set_={"b": "x"})
    y = insert(_t).on_conflict_do_update(index_elements=["a"], set_={"b": "y"})
    assert _key(x) == _key(y)
    assert x.compile(dialect=postgresql.dialect()).params["param_1"] == "x"
    assert y.compile(dialect=postgresql.dialect()).params["param_1"] == "y"
    assert _sql(x) == _sql(y)


def test_install_is_idempotent() -> None:
    sqlcache.install()
    sqlcache.install()
    assert _key(insert(_t).on_conflict_do_nothing()) is not None
