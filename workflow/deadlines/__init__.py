"""Deadlines at run time: the effect that opens and closes them with each transition, the sweep
that fires due reminders and escalations."""
