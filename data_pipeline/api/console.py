"""The web console: one HTML shell at `/` plus its vendored assets under `/console/static/`.

The console is a client of the JSON API like any other (ES modules, no build step, nothing from a CDN). The
routes here never overlap `/api/` or `/health`; an unknown asset is the contract's 404 envelope.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

bp = Blueprint("console", __name__, template_folder=str(WEB_DIR / "templates"),
               static_folder=str(WEB_DIR / "static"), static_url_path="/console/static")


@bp.get("/")
@bp.get("/console")
def index():
    """The single-page shell; the hash router in static/js/app.js draws every page."""
    resp = render_template("console.html")
    return resp, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
                       "X-Content-Type-Options": "nosniff",
                       # only our own assets and API; inline styles are used by the progress bars
                       "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                  "img-src 'self' data:; object-src 'none'; base-uri 'none'"}
