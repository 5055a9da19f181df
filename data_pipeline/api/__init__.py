"""Blueprints, one per resource, registered in one place."""
from __future__ import annotations

from flask import Flask, current_app

from data_pipeline.context import AppContext


def ctx() -> AppContext:
    return current_app.extensions["data_pipeline"]


def register_blueprints(app: Flask) -> None:
    from data_pipeline.api import console, database, execution, files, health, logs, tasks, vector
    # execution before tasks: both live under /api/v0/data_pipeline/tasks
    for module in (health, execution, tasks, files, logs, database, vector, console):
        app.register_blueprint(module.bp)
