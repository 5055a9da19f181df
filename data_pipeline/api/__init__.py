"""Blueprints, one per resource, registered in one place.

    health.py     GET /health
    tasks.py      task create, list, query, active, status, executions, delete
    execution.py  start a task (complete or one step), create-and-start, cancel
    files.py      task files and table lists: list, download, upload, archive
    logs.py       task logs: tail, query, SSE follow
    events.py     task status changes as Server-Sent Events (a page can stop polling)
    database.py   database tools: business tables, one table's DDL/Markdown
    vector.py     vector tables: backup, backup sets, restore
    console.py    the web console shell and its static assets
    envelope.py   the contract's envelope and request parsing
    errors.py     every failure -> the error envelope; request guards (control characters, OPTIONS)
    gunicorn_worker.py  the gevent (default) and gthread workers whose own 414/431/400 answers are envelopes too
    request_policy.py   Host, Origin, body type and body size, checked before the token and any view
    tool_slots.py       the shared concurrency cap (429) of the database tools and the vector endpoints
    compute_gate.py     WSGI middleware: one request computes at a time per worker, never behind a slow one
    fault_injection.py  test-only route raising an unexpected exception (only under a test config)
"""
from __future__ import annotations

from flask import Flask, current_app

from data_pipeline.context import AppContext


def ctx() -> AppContext:
    return current_app.extensions["data_pipeline"]


def register_blueprints(app: Flask) -> None:
    from data_pipeline.api import console, database, events, execution, files, health, logs, tasks, vector
    # execution before tasks: both live under /api/v0/data_pipeline/tasks
    for module in (health, execution, tasks, files, logs, events, database, vector, console):
        app.register_blueprint(module.bp)
    from data_pipeline.api import fault_injection
    if fault_injection.enabled(app.config):
        app.register_blueprint(fault_injection.bp)
