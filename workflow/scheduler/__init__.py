"""Scheduling: one pass (:mod:`.tick`) and the APScheduler daemon that runs passes."""
