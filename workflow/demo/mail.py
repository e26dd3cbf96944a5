"""The demo's one mail writer: the Maildir files ``MaildirTransport`` writes, without an fsync
for each of the demo's three thousand messages.

``MaildirTransport`` (through :class:`mailbox.Maildir`) syncs every message to the disk before
delivery marks it sent: a real run must not lose a mail it has recorded as sent. The demo is
made again (``--fresh``) rather than recovered, so its writer writes each file (``tmp/``, then
renamed into ``new/``, as Maildir readers expect) and syncs once, when the run is over
(:meth:`DemoMaildir.close`). The bytes of each file are those ``MaildirTransport`` writes: the
message in its policy with the local line ending.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from email.message import EmailMessage
from pathlib import Path

from notifications.mail.transport import MaildirTransport, TransportError


class DemoMaildir(MaildirTransport):
    """Writes each message as one file into the Maildir at ``path`` (created if missing),
    as :class:`MaildirTransport` does (its line endings), without its fsync per message."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)  # the Maildir's folders, the message policy's LF twin
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        self._unique = f"P{os.getpid()}Q{{}}.{host}"
        self._count = itertools.count(1)

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        data = message.as_bytes(policy=self._lf_policy(message.policy))
        now = time.time()
        name = f"{int(now)}.M{int(now % 1 * 1e6)}" + self._unique.format(next(self._count))
        temporary = self.path / "tmp" / name
        try:
            with open(temporary, "xb") as fh:
                fh.write(data)
            os.replace(temporary, self.path / "new" / name)
        except OSError as exc:
            raise TransportError(
                f"cannot write to Maildir {self.path}: {exc}", temporary=True, unreachable=True
            ) from exc

    def close(self) -> None:
        """Put every message written onto the disk (one sync for the whole run)."""
        os.sync()
