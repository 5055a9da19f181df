"""Blueprints, one per resource, registered in one place."""
from __future__ import annotations

from flask import Flask, current_app

from data_pipeline.context import AppContext


def ctx() -> AppContext:
    return current_app.extensions["data_pipeline"]


def register_blueprints(app: Flask) -> None:
    from data_pipeline.api import health, tasks
    for module in (health, tasks):
        app.register_blueprint(module.bp)
    # resources added by later modules register themselves here (import inside to keep start-up light)
    for name in ("execution", "files", "logs", "database", "vector", "console"):
        try:
            module = __import__(f"data_pipeline.api.{name}", fromlist=["bp"])
        except ModuleNotFoundError as exc:
            if exc.name != f"data_pipeline.api.{name}":
                raise
            continue
        app.register_blueprint(module.bp)
