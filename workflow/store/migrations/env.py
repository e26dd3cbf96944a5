"""Alembic environment: runs on the connection ruhrflow hands over (``ruhrflow init``)."""

from __future__ import annotations

from alembic import context

from workflow.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ruhrflow init` (it passes the connection)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
