"""The columns whose size bounds what a command may store: the key and cost estimate of a
proposal, the party of a statement, the amount of a funding line.

Read from the columns into the plain values of :mod:`workflow.inputs`, which checks input
against them (a text no longer than the column, an amount that fits ``Numeric(p, s)``
exactly) before anything is written, so that a
value too long or too precise is one clear error instead of a driver's, and the same on
SQLite, which would keep it, as on PostgreSQL, which would refuse it. Named here so that
the engine never reaches into the tables of :mod:`workflow.store.schema` itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer, Numeric, SmallInteger, String

from workflow.inputs import IntegerLimit, MoneyLimit, TextLimit
from workflow.store.schema import definitions, funding, proposals, statements, web_accounts


def text_limit(column: Column[Any]) -> TextLimit:
    """The length of a ``String(n)`` column (``TypeError`` for any other column)."""
    length = column.type.length if isinstance(column.type, String) else None
    if length is None:
        raise TypeError(f"column {column.name} has no length")
    return TextLimit(column.name, length)


def integer_limit(column: Column[Any]) -> IntegerLimit:
    """The smallest and largest value of an integer column, by its width on PostgreSQL
    (``TypeError`` for any other column)."""
    kind = column.type
    if isinstance(kind, SmallInteger):
        bits = 16
    elif isinstance(kind, BigInteger):
        bits = 64
    elif isinstance(kind, Integer):
        bits = 32
    else:
        raise TypeError(f"column {column.name} is no integer column")
    return IntegerLimit(column.name, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def money_limit(column: Column[Any]) -> MoneyLimit:
    """Precision and scale of a ``Numeric(p, s)`` column (``TypeError`` for any other)."""
    kind = column.type
    if not isinstance(kind, Numeric) or kind.precision is None or kind.scale is None:
        raise TypeError(f"column {column.name} is no Numeric(p, s) column")
    return MoneyLimit(column.name, kind.precision, kind.scale)


PROPOSAL_KEY = text_limit(proposals.c.key)
"""``String(n)``: a proposal's key (``RK-03-01``)."""

PROPOSAL_COST_ESTIMATE = money_limit(proposals.c.cost_estimate)
"""``Numeric(p, s)``: a proposal's cost estimate in euros."""

STATEMENT_PARTY = text_limit(statements.c.party)
"""``String(n)``: who made a consultation statement."""

FUNDING_AMOUNT = money_limit(funding.c.amount)
"""``Numeric(p, s)``: a funding line's amount in euros."""

DEFINITION_VERSION = integer_limit(definitions.c.version)
"""An integer column: the version number of a registered definition."""

ACTOR_ID = text_limit(web_accounts.c.actor_id)
"""``String(n)``: an actor's id (a login name)."""

PROPOSAL_HANDLUNGSFELD = integer_limit(proposals.c.handlungsfeld)
"""An integer column: a proposal's Handlungsfeld (a list filter compares with it)."""

PROPOSAL_THEMENFORUM = integer_limit(proposals.c.themenforum)
"""An integer column: a proposal's Themenforum (a list filter compares with it)."""
