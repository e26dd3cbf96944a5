"""The release of this ruhrflow: one place, read by the package metadata (hatch), the CLI's
``--version``, the web's footer and every mail's ``X-Mailer`` header.

Each release has its own number (README "Development": cutting a release); a database says
which schema it holds (``ruhrflow db status``), this says which code reads it.
"""

__version__ = "0.3.0"
RELEASED = "2026-12-05"
MAILER = f"ruhrflow {__version__}"
