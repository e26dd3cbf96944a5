"""The audit trail: verification, checkpoints, export, pseudonymisation and reports.

History rows form one hash chain per proposal (``workflow.engine.chain``) plus the system chain
``@system`` for entries that belong to no proposal (checkpoints, pseudonymisations).
The tables are append-only at the database level (migration 0002); this package reads
them, proves them unaltered and derives the public progress reports from them.

Pseudonymisation scheme (GDPR erasure)
--------------------------------------
History never stores a person: each entry carries an opaque ``actor_ref``, and only the
table ``actor_refs`` maps a ref to an actor id. The hash chain covers the ref, not the
person — but the ref is a salted commitment to the id (``store/attribution.py``; 24 random hex
digits for refs made before), so exports and ``verify`` prove the attribution.
``ruhrflow audit pseudonymise ID`` replaces the actor id behind every ref of that person
by one pseudonym (``pseudonym-<random>``), deletes the salt and sets
``pseudonymised_at``; no history row changes, so every chain still verifies, and
the log shows the pseudonym (the entries stay attributable to one unknown person). The
erasure itself is a ``pseudonymise`` entry on ``@system`` that names the pseudonym and
the number of refs, never the person. Later actions of the same id get a new ref.
Like every change it passes the engine's unit of work (``Engine.pseudonymise``,
``workflow/engine/erasure.py``).
"""

from workflow.audit.checkpoint import Checkpoint, heads_digest, take_checkpoint
from workflow.audit.export import export_history, verify_file
from workflow.audit.verify import verify_store
from workflow.audit.walker import Break, VerifyResult
from workflow.engine.erasure import Pseudonymised
from workflow.engine.history import SYSTEM_CHAIN, append_system_entry

__all__ = [
    "SYSTEM_CHAIN",
    "Break",
    "Checkpoint",
    "Pseudonymised",
    "VerifyResult",
    "append_system_entry",
    "export_history",
    "heads_digest",
    "take_checkpoint",
    "verify_file",
    "verify_store",
]
