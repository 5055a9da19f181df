"""The console blueprint's routes (no browser): the shell, its assets, and no overlap with /api/ or /health."""
from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "data_pipeline" / "web" / "static"


def test_shell_is_served_at_root_with_a_strict_policy(client):
    resp = client.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "/console/static/js/app.js" in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp  # scripts only from our origin
    assert client.get("/console").status_code == 200


def test_assets_are_local_files_and_nothing_comes_from_a_cdn(client):
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert files
    for path in files:
        rel = path.relative_to(STATIC).as_posix()
        resp = client.get(f"/console/static/{rel}")
        assert resp.status_code == 200, rel
        text = path.read_text(encoding="utf-8")
        # no absolute URL is ever loaded by the console (links in rendered Markdown are user content)
        assert not re.search(r"(src|href)=[\"']?https?://|import .* from [\"']https?://|url\(https?://", text), rel


def test_console_does_not_shadow_the_api(client):
    unknown = client.get("/api/v0/no_such_thing")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/health").get_json()["success"] is True
    missing = client.get("/console/static/js/nope.js")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/console/static/../../api/console.py").status_code == 404
