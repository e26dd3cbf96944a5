"""The public board: a static site with the Sachstand as of a cut-off and its open data.

``ruhrflow publish --output DIR [--as-of DATE]`` reconstructs every proposal as it stood
at the end of DATE (workflow/audit/asof.py), records an audit checkpoint over the chain
heads as of that cut-off, and writes plain files any web server can host: ``index.html``,
one page per decided project, ``fields.html``, ``proposals.csv``, ``proposals.json`` and
``catalog.ttl`` (DCAT-AP.de). The staff application never faces the internet.

Only what the public reports show leaves the database: titles, Handlungsfeld,
Themenforum, lead ministry, status, money, progress and the dates of state changes —
never actors, actor refs, comments, statements or mail addresses.
"""

from workflow.publish.site import PublishResult, publish

__all__ = ["PublishResult", "publish"]
