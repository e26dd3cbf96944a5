"""``ruhrflow serve``: gunicorn, tuned for running under a supervisor.

* **Configuration in layers.** ruhrflow's defaults (bind, workers, a worker timeout of
  five minutes — a web "verify now" of a long history takes minutes —, no access log of
  gunicorn's own, ``forwarded_allow_ips`` from ``[web] trusted_proxies``), then a gunicorn
  configuration file (``--gunicorn-config``), then ``GUNICORN_CMD_ARGS``, then the options
  given to ``serve`` explicitly. A plain ``BaseApplication`` reads neither the file nor the
  variable; this one does, as ``gunicorn`` itself would.
* **No shared control socket.** gunicorn ≥ 25.1 opens a control socket at one fixed path
  per user (``$XDG_RUNTIME_DIR/gunicorn.ctl``): a second instance on the host took it over
  and removed it when it stopped. ``serve`` opens none unless ``--control-socket PATH``.
* **One log format.** gunicorn's master and workers log through ruhrflow's handler
  (:mod:`workflow.app.logs`), with the same time stamps and request ids as the app.
* **Metrics of every worker.** ``PROMETHEUS_MULTIPROC_DIR`` is set before any worker starts
  (a fresh directory of its own, removed at exit, unless the environment names one, which is
  then emptied of old values first), and a worker that exits is marked dead there.
* **Waiting for the database** (:mod:`workflow.app.waiting`) before the workers start, and
  again in each worker before it builds the application (a worker restarted during an
  outage waits instead of failing to boot, which would stop gunicorn altogether).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.app.health import trusted_proxies
from workflow.app.logs import LogSettings, configure_logging, make_handler
from workflow.app.settings import Settings
from workflow.app.waiting import WaitSettings, wait_for_database, wait_for_the_database_of

log = logging.getLogger("workflow.web")
# Read by prometheus_client when it is first imported: so this module imports neither it nor
# a module that does (workflow.app.metrics, workflow.web.operations) — the workers do, after
# the variable is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class ServeOptions:
    """What ``serve`` was told; ``explicit`` names the options given on its command line."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    timeout: int = 300
    config_file: str | None = None
    control_socket: str | None = None
    explicit: frozenset[str] = field(default_factory=frozenset)


def gunicorn_settings(settings: Settings, options: ServeOptions) -> dict[str, Any]:
    """ruhrflow's defaults for gunicorn (before the file, the variable and the options)."""
    proxies = trusted_proxies(settings)
    return {
        "bind": [f"{options.host}:{options.port}"],
        "workers": options.workers,
        "timeout": options.timeout,
        "graceful_timeout": 30,
        "accesslog": None,  # ruhrflow writes the access line: with user and request id
        "forwarded_allow_ips": ",".join(str(n) for n in proxies) if proxies else "127.0.0.1",
        "proc_name": "ruhrflow-web",
    }


def explicit_settings(options: ServeOptions) -> dict[str, Any]:
    """The options given to ``serve`` itself: they win over the file and the variable."""
    out: dict[str, Any] = {}
    if {"host", "port"} & options.explicit:
        out["bind"] = [f"{options.host}:{options.port}"]
    if "workers" in options.explicit:
        out["workers"] = options.workers
    if "timeout" in options.explicit:
        out["timeout"] = options.timeout
    return out


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """The multi-process metrics directory for this run (see the module doc)."""
    if "prometheus_client" in sys.modules and not os.environ.get(MULTIPROC_ENV):
        log.warning("prometheus_client was loaded before serve set %s", MULTIPROC_ENV)
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):  # values of an earlier run would be counted again
            old.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="ruhrflow-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def run_gunicorn(settings: Settings, options: ServeOptions) -> None:
    """Wait for the database, then run gunicorn until it is stopped."""
    with metrics_directory():  # before anything imports prometheus_client
        from workflow.app.runtime import open_runtime
        from workflow.web.oidc import load_config

        log_options = LogSettings.from_section(settings.section("logging"))
        runtime = open_runtime(settings)
        try:
            load_config(settings, runtime.directory)  # a bad [web.oidc]: one line, no server
        finally:
            runtime.close()
        handler = configure_logging(log_options)
        wait_for_the_database_of(settings)
        server = make_server(settings, options, log_options, handler)
        log.info("ruhrflow web on %s (%d workers)", ", ".join(server.cfg.bind), server.cfg.workers)
        server.run()


def make_server(
    settings: Settings, options: ServeOptions, log_options: LogSettings, handler: logging.Handler
) -> Any:
    """The gunicorn application, configured (see the module doc), not yet running."""
    from gunicorn.app.base import Application, BaseApplication
    from gunicorn.glogging import Logger

    from workflow.app.runtime import open_runtime

    wait = WaitSettings.from_section(settings.section("database"))
    stream = getattr(handler, "stream", None)

    class RuhrflowLogger(Logger):  # type: ignore[misc]
        """gunicorn's logger, writing through ruhrflow's handler."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for old in list(logger.handlers):
                    logger.removeHandler(old)
                logger.addHandler(make_handler(log_options, stream))
                logger.propagate = False
            self.error_log.setLevel(log_options.level)

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_settings(settings, options).items():
                self.cfg.set(key, value)
            self.cfg.set("logger_class", RuhrflowLogger)
            self.cfg.set("child_exit", child_exit)
            if "control_socket" in self.cfg.settings:  # gunicorn >= 25.1
                if options.control_socket:
                    self.cfg.set("control_socket", options.control_socket)
                else:
                    self.cfg.set("control_socket_disable", True)
            if options.config_file:
                config = Application.get_config_from_filename(self, options.config_file)
                for key, value in config.items():
                    if key in self.cfg.settings:
                        self.cfg.set(key.lower(), value)
            parser = self.cfg.parser()
            env_args = parser.parse_args(self.cfg.get_cmd_args_from_env())
            for key, value in vars(env_args).items():
                if value is not None and key != "args":
                    self.cfg.set(key.lower(), value)
            for key, value in explicit_settings(options).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from workflow.web import create_app

            worker_runtime = open_runtime(settings)
            wait_for_database(worker_runtime.store, wait)
            return create_app(settings, runtime=worker_runtime)

    return Server()
