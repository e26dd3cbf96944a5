"""Notices to the ministries: rendering, outbox and transports."""
