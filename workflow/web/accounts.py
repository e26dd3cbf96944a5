"""Moved: the account policy is :mod:`workflow.access.accounts`, its SQL
:mod:`workflow.store.accounts` (issue 28.5). This name stays for the imports of ``bench/`` and
of work in progress; new code imports from :mod:`workflow.access.accounts`."""

from __future__ import annotations

from workflow.access.accounts import *  # noqa: F403
