"""The Data Pipeline API: `create_app()` is the one wiring point; `python citu_app.py` serves it on gunicorn.

Start-up order (master process): settings -> embedded PostgreSQL attach (when no DATABASE_URL) -> migrations ->
demo business database (first start only) -> background monitor -> gunicorn workers. Ctrl-C / SIGTERM stop the
service; running executors are separate sessions and keep running (the embedded server stays up until the last
of them exits).
"""
from __future__ import annotations

import hmac
import logging
import sys
from typing import Optional

from flask import Flask, request

from app_config import ConfigError, Settings, get_settings, load_settings
from core.errors import Unauthorized
from data_pipeline.api import register_blueprints
from data_pipeline.api import request_policy
from data_pipeline.api.compute_gate import ComputeGate
from data_pipeline.api.errors import register_error_handlers, register_request_guards
from data_pipeline.context import build_context

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"
log = logging.getLogger("citu_app")


def configure_logging(level: str) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def create_app(overrides: Optional[dict] = None, settings: Optional[Settings] = None,
               test_config: Optional[dict] = None) -> Flask:
    """Build the app. Tests pass `overrides` (setting name -> value) instead of patching globals, and
    `test_config` (Flask config, e.g. TESTING; never set by `serve()`) for test-only wiring."""
    settings = settings or (load_settings(overrides) if overrides else get_settings())
    configure_logging(settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    # multipart overhead on top of the file size limit
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 64 * 1024
    app.config.update(test_config or {})
    app.extensions["data_pipeline"] = build_context(settings)
    request_policy.register(app, settings)   # Host, Origin, body type and size: before the token and any view

    @app.before_request
    def _require_token():
        token = settings.api_token
        if token and request.path.startswith("/api/"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise Unauthorized("send 'Authorization: Bearer <API_TOKEN>'")

    register_error_handlers(app)
    register_request_guards(app)
    register_blueprints(app)
    # threads of one worker computing at once mostly wait for each other's interpreter lock (docs/polling.md)
    app.wsgi_app = ComputeGate(app.wsgi_app, slots=settings.computing_requests_per_worker)
    return app


def _start_background(settings: Settings) -> None:
    """Dead-executor monitor and retention cleanup, once per service instance (in the master process); the
    executors' bytecode cache filled in the background (data_pipeline/executor/bytecode.py)."""
    from data_pipeline import monitor
    from data_pipeline.executor import bytecode
    bytecode.warm(settings)
    monitor.start_background(settings)


_WORKER_CLASSES = {"gevent": "data_pipeline.api.gunicorn_worker.EnvelopeGeventWorker",
                   "gthread": "data_pipeline.api.gunicorn_worker.EnvelopeThreadWorker"}


def serve(settings: Settings) -> None:
    from data_pipeline.context import build_context as prepare_once
    prepare_once(settings, maxconn=2)  # embedded attach, migrations, demo DB: before any worker starts
    _start_background(settings)
    if settings.debug:
        log.warning("DEBUG=1: Flask development server (not for production)")
        create_app(settings=settings).run(host=settings.host, port=settings.port, debug=False,
                                          use_reloader=False, threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    from data_pipeline.executor import launcher

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"{settings.host}:{settings.port}", "workers": settings.workers,
                "threads": settings.threads, "timeout": 60,
                # gevent or gthread whose own errors (414, 431, 400) are JSON envelopes, not gunicorn's HTML page
                "worker_class": _WORKER_CLASSES[settings.server_model],
                # the longest request line gunicorn allows (default 4094): long file names and filters fit
                "limit_request_line": 8190, "limit_request_field_size": 16380,
                "graceful_timeout": 10, "accesslog": None, "loglevel": settings.log_level.lower(),
                "proc_name": "data_pipeline_api",
                # one shared control socket path would collide between instances; we don't use it
                "control_socket_disable": True,
                # the worker's first execution finds its process started already (EXECUTOR_STANDBY)
                "post_worker_init": lambda _worker: launcher.prime_standby(settings),
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app(settings=settings)

    log.info("serving on http://%s:%s (gunicorn %s, %d workers)", settings.host, settings.port,
             settings.server_model, settings.workers)
    Server().run()


def main() -> int:
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
