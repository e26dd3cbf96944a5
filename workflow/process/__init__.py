"""The process, pure: definitions, deadline rules, calendar, fields, guards, machine, diagrams.

Nothing here opens a connection or writes SQL; every layer above may use it, it uses none of them.
"""
