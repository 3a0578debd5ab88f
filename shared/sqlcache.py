"""PostgreSQL ``INSERT … ON CONFLICT`` statements in SQLAlchemy's compiled-statement cache.

SQLAlchemy 2.0's ``postgresql.Insert`` sets ``inherit_cache = False`` and its ON CONFLICT clauses have no cache
key, so every execution of such a statement is compiled from scratch (logged as ``[no key]``): measured at
20 complaints/s, 23 % of intake's CPU, 16 % of analytics', 7–9 % of dispatch's and notify's went to compiling the
same few statements again. Upstream fixed it for 2.1 (sqlalchemy/sqlalchemy#10445) by giving the clauses
traversal attributes; :func:`install` does the same on 2.0 — the constraint name, the inferred target columns and
WHERE, and for DO UPDATE the SET pairs and WHERE all go into the key, so two statements that differ in any of
them never share a compiled form (a unit test checks this). It does nothing on a SQLAlchemy that has the fix.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import dml
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.sqltypes import NULLTYPE
from sqlalchemy.sql.visitors import InternalTraversal

_TARGET = [
    ("constraint_target", InternalTraversal.dp_string),
    ("inferred_target_elements", InternalTraversal.dp_multi_list),
    ("inferred_target_whereclause", InternalTraversal.dp_clauseelement),
]


def install() -> None:
    """Make ``postgresql.insert(...).on_conflict_do_nothing/update(...)`` cacheable (idempotent)."""
    if dml.Insert.__dict__.get("inherit_cache") is not False:
        return  # fixed upstream, or already installed
    for cls in (dml.OnConflictClause, dml.OnConflictDoNothing, dml.OnConflictDoUpdate, dml.Insert):
        if "_generated_cache_key_traversal" in cls.__dict__:  # memoised before this ran: recompute it
            delattr(cls, "_generated_cache_key_traversal")
    dml.OnConflictClause._traverse_internals = list(_TARGET)
    dml.OnConflictDoNothing.inherit_cache = True
    dml.OnConflictDoUpdate._traverse_internals = [
        *_TARGET,
        ("update_values_to_set", InternalTraversal.dp_dml_ordered_values),
        ("update_whereclause", InternalTraversal.dp_clauseelement),
    ]
    dml.Insert.inherit_cache = True
    original_init = dml.OnConflictDoUpdate.__init__

    def init_with_bound_values(self: dml.OnConflictDoUpdate, *args: Any, **kwargs: Any) -> None:
        # a plain Python value in SET becomes a bound parameter now (typed by its column when compiled, as before)
        # instead of being rendered at compile time, so it is a parameter of the cached statement, not part of it
        original_init(self, *args, **kwargs)
        self.update_values_to_set = [
            (key, coercions.expect(roles.ExpressionElementRole, value, type_=NULLTYPE, is_crud=True))
            for key, value in self.update_values_to_set
        ]

    dml.OnConflictDoUpdate.__init__ = init_with_bound_values  # type: ignore[method-assign]
