"""Logs API on real log files in the contract's line format: tail, query filters (every step), pagination,
multi-line entries, SSE follow, path safety of the log file."""
from __future__ import annotations

import io
import logging
import os
import threading
import time

import pytest

from core.task_logging import LOG_FILE_NAME, StepFilter, task_log_handler
from data_pipeline.taskfiles import log_reader
from data_pipeline.steps import STEPS

API = "/api/v0/data_pipeline/tasks"
TRACEBACK = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
             "    raise ValueError('boom')\nValueError: boom")


def make_task(client) -> str:
    r = client.post(API, json={"task_name": "logs"})
    assert r.status_code == 201
    return r.get_json()["data"]["task_id"]


def sample_lines() -> list[str]:
    """60 entries: 15 per step, levels rotating, one traceback per step, minutes increasing."""
    lines, levels = [], ["INFO", "DEBUG", "WARNING", "ERROR"]
    n = 0
    for s, step in enumerate(STEPS):
        for i in range(15):
            level = levels[i % 4]
            ts = f"2025-06-27 14:{s * 15 + i:02d}:00"
            msg = f"{step} message {i} 表 {n}"
            if i == 7:
                msg += "\n" + TRACEBACK
            lines.append(f"{ts} [{level}] dp.{step}.worker: [{step}] {msg}")
            n += 1
    return lines


@pytest.fixture()
def task_with_log(client, app_ctx):
    task_id = make_task(client)
    path = app_ctx.task_dir(task_id) / LOG_FILE_NAME
    path.write_text("\n".join(sample_lines()) + "\n", encoding="utf-8")
    return task_id


def test_tail_returns_newest_entries_in_time_order(client, task_with_log):
    r = client.get(f"{API}/{task_with_log}/logs?limit=5")
    d = r.get_json()["data"]
    assert r.status_code == 200 and d["source"] == "file" and d["total"] == 5
    assert [e["message"].split(" 表 ")[1] for e in d["logs"]] == ["55", "56", "57", "58", "59"]
    assert d["logs"][0]["step"] == "training_load" and d["logs"][0]["logger"] == "dp.training_load.worker"
    assert not d["log_file"].startswith("/") and d["log_file"].endswith(f"{task_with_log}/data_pipeline.log")


def test_tail_level_filter_keeps_tracebacks_with_their_entry(client, task_with_log):
    d = client.get(f"{API}/{task_with_log}/logs?limit=3&level=error").get_json()["data"]
    assert [e["level"] for e in d["logs"]] == ["ERROR"] * 3
    # entry 7 of each step is an ERROR carrying a traceback
    tb = [e for e in d["logs"] if "Traceback" in e["message"]]
    assert tb and tb[0]["message"].endswith("ValueError: boom")


def test_tail_reads_from_the_end_of_a_large_file(app_ctx, tmp_path):
    path = tmp_path / "big.log"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(200_000):
            fh.write(f"2025-06-27 14:00:00 [INFO] dp: [ddl_generation] line {i}\n")

    class CountingReader(io.FileIO):
        bytes_read = 0

        def read(self, n=-1):
            data = super().read(n)
            CountingReader.bytes_read += len(data)
            return data

    with CountingReader(path, "r") as fh:
        entries = log_reader.tail(fh, 10)
    assert [e["message"] for e in entries][-1] == "line 199999" and len(entries) == 10
    assert CountingReader.bytes_read <= 2 * log_reader.BLOCK < os.path.getsize(path) / 10


@pytest.mark.parametrize("step", STEPS)
def test_query_step_filter_works_for_every_step(client, task_with_log, step):
    d = client.post(f"{API}/{task_with_log}/logs/query", json={"step_name": step, "page_size": 100}).get_json()["data"]
    assert d["pagination"]["total"] == 15
    assert {e["step"] for e in d["logs"]} == {step}


def test_query_level_keyword_time_range_and_line_numbers(client, task_with_log):
    body = {"level": "ERROR", "keyword": "TRACEBACK", "start_time": "2025-06-27T14:15:00",
            "end_time": "2025-06-27T14:45:00", "sort_order": "asc"}
    d = client.post(f"{API}/{task_with_log}/logs/query", json=body).get_json()["data"]
    # tracebacks at entries 7 of steps 1, 2 (14:22, 14:37); step 3's is 14:52 (outside); step 0's 14:07
    assert d["pagination"]["total"] == 2
    assert [e["timestamp"] for e in d["logs"]] == ["2025-06-27 14:22:00", "2025-06-27 14:37:00"]
    lines = sample_lines()
    # line_number = the 1-based line of the entry's header in the file (tracebacks add 4 lines each)
    flat = "\n".join(lines).split("\n")
    for e in d["logs"]:
        assert flat[e["line_number"] - 1].startswith(e["timestamp"])
        assert "ValueError: boom" in e["message"]
    assert d["log_file_info"]["exists"] and d["log_file_info"]["file_size"] > 0
    assert d["query_time"].endswith("s")


def test_query_pagination_and_sort(client, task_with_log):
    url = f"{API}/{task_with_log}/logs/query"
    d1 = client.post(url, json={"page": 1, "page_size": 25}).get_json()["data"]
    d3 = client.post(url, json={"page": 3, "page_size": 25}).get_json()["data"]
    assert d1["pagination"] == {"page": 1, "page_size": 25, "total": 60, "total_pages": 3, "has_next": True,
                                "has_prev": False}
    assert d1["logs"][0]["message"].endswith("表 59") and len(d3["logs"]) == 10
    assert d3["logs"][-1]["message"].startswith("ddl_generation message 0")
    asc = client.post(url, json={"sort_by": "line_number", "sort_order": "asc", "page_size": 5}).get_json()["data"]
    assert [e["line_number"] for e in asc["logs"]] == sorted(e["line_number"] for e in asc["logs"])
    by_level = client.post(url, json={"sort_by": "level", "sort_order": "asc", "page_size": 500}).get_json()["data"]
    order = [log_reader.LEVELS.index(e["level"]) for e in by_level["logs"]]
    assert order == sorted(order)


def test_query_logger_filter_and_validation(client, task_with_log):
    url = f"{API}/{task_with_log}/logs/query"
    d = client.post(url, json={"logger_name": "QA_GENERATION"}).get_json()["data"]
    assert d["pagination"]["total"] == 15
    for bad in ({"page_size": 501}, {"step_name": "nope"}, {"level": "LOUD"}, {"start_time": "yesterday"},
                {"sort_by": "message"}, {"unknown": 1}):
        r = client.post(url, json=bad)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_ERROR", bad


def test_no_log_file_yet_and_unknown_task(client):
    task_id = make_task(client)
    d = client.get(f"{API}/{task_id}/logs").get_json()["data"]
    assert d["logs"] == [] and d["total"] == 0
    q = client.post(f"{API}/{task_id}/logs/query", json={}).get_json()["data"]
    assert q["log_file_info"]["exists"] is False and q["pagination"]["total"] == 0
    r = client.get(f"{API}/task_20000101_000000/logs")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "TASK_NOT_FOUND"
    r = client.get(f"{API}/..%2f..%2fetc/logs")
    assert r.status_code in (400, 404) and r.get_json()["success"] is False


def test_log_symlink_planted_outside_is_refused(client, app_ctx):
    task_id = make_task(client)
    os.symlink("/etc/passwd", app_ctx.task_dir(task_id) / LOG_FILE_NAME)
    for r in (client.get(f"{API}/{task_id}/logs"), client.post(f"{API}/{task_id}/logs/query", json={})):
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "INVALID_FILE_NAME"
        assert b"root:" not in r.data


def test_logs_written_by_the_real_handler_are_parsed_and_scrubbed(client, app_ctx):
    task_id = make_task(client)
    logger = logging.getLogger("dp.test.handler")
    handler = task_log_handler(app_ctx.task_dir(task_id), StepFilter("sql_validation"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("connecting to postgresql://u:SeCrEt_pw@localhost/db")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    r = client.get(f"{API}/{task_id}/logs")
    assert b"SeCrEt_pw" not in r.data
    logs = r.get_json()["data"]["logs"]
    assert [e["step"] for e in logs] == ["sql_validation", "sql_validation"]
    assert "RuntimeError: boom" in logs[1]["message"]


def test_sse_stream_follows_appends_and_ends(client, app_ctx):
    task_id = make_task(client)
    path = app_ctx.task_dir(task_id) / LOG_FILE_NAME
    path.write_text("2025-06-27 14:00:00 [INFO] dp: [ddl_generation] before\n", encoding="utf-8")

    r = client.get(f"{API}/{task_id}/logs/stream?from=start&max_seconds=3", buffered=False)
    body = ""
    for chunk in r.response:  # no running execution: ends once drained (or at max_seconds)
        first = "event: log" not in body
        body += chunk.decode() if isinstance(chunk, bytes) else chunk
        if first and "event: log" in body:  # the first entry was streamed: append while the stream follows
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("2025-06-27 14:00:01 [ERROR] dp: [qa_generation] after\n" + TRACEBACK + "\n")
    r.close()
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    assert body.count("event: log") == 2 and "event: end" in body
    assert "ValueError: boom" in body.split("event: log")[2]


def _naive(lines_text: str, flt) -> list[tuple[int, dict]]:
    """Reference: parse every entry with core.task_logging.parse_line, filter in plain Python."""
    from core.task_logging import parse_line
    entries, current = [], None
    for n, line in enumerate(lines_text.split("\n")[:-1], start=1):
        p = parse_line(line)
        if p:
            current = [n, dict(p)]
            entries.append(current)
        elif current is None:
            current = [n, {"timestamp": None, "level": None, "logger": None, "step": None, "message": line}]
            entries.append(current)
        else:
            current[1]["message"] += "\n" + line
    out = []
    for n, e in entries:
        if flt.levels and e["level"] not in flt.levels:
            continue
        if flt.step_name and e["step"] != flt.step_name:
            continue
        if flt.start_time and (e["timestamp"] is None or e["timestamp"] < flt.start_time):
            continue
        if flt.end_time and (e["timestamp"] is None or e["timestamp"] > flt.end_time):
            continue
        if flt.logger_name and flt.logger_name.lower() not in (e["logger"] or "").lower():
            continue
        if flt.keyword:
            whole = f"{e['timestamp']} [{e['level']}] {e['logger']}: " + (f"[{e['step']}] " if e["step"] else "")
            if flt.keyword.lower().encode() not in (whole + e["message"]).encode().lower():
                continue
        out.append((n, e))
    return out


def test_query_engine_agrees_with_a_naive_parser_on_tricky_logs(tmp_path, monkeypatch):
    """Random log with decoys (step tags and logger names inside messages, tracebacks, orphan lines at the
    start, non-ASCII); small chunks force many chunk boundaries and both the sparse and the indexed paths."""
    import random
    from data_pipeline.taskfiles import log_query
    monkeypatch.setattr(log_query, "CHUNK", 4096)
    monkeypatch.setattr(log_query, "SPARSE_HITS", 3)
    rnd = random.Random(3)
    levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    steps = [*STEPS, "executor"]
    out = ["stray child output before any header", "second stray line"]
    for i in range(3000):
        ts = f"2025-06-27 1{i // 600}:{(i // 10) % 60:02d}:{i % 60:02d}"
        step = rnd.choice(steps)
        msg = rnd.choice(["plain 表 message", "decoy: [qa_generation] inside", "logger dp.qa.worker: x",
                          "Keyword KEYWORD keyword", "sql_validation mentioned"])
        out.append(f"{ts} [{rnd.choice(levels)}] dp.{step}.worker: [{step}] {msg} {i}")
        if rnd.random() < 0.05:
            out.extend(["Traceback (most recent call last):", "  keyword in traceback", "ValueError: x"])
    text = "\n".join(out) + "\n"
    path = tmp_path / "t.log"
    path.write_text(text, encoding="utf-8")
    filters = [log_query.LogFilter(), log_query.LogFilter(step_name="qa_generation"),
               log_query.LogFilter(logger_name="QA_GEN"), log_query.LogFilter(keyword="keyword"),
               log_query.LogFilter(keyword="表", levels={"ERROR", "INFO"}),
               log_query.LogFilter(levels={"WARNING"}, start_time="2025-06-27 11:00:00",
                                   end_time="2025-06-27 12:30:00"),
               log_query.LogFilter(keyword="traceback", step_name="sql_validation"),
               log_query.LogFilter(keyword="stray"),
               log_query.LogFilter(logger_name="executor", levels={"CRITICAL"}, keyword="decoy")]
    for flt in filters:
        expected = _naive(text, flt)
        with open(path, "rb") as fh:
            res = log_query.query(fh, flt)
            got = log_query.page(fh, res, page_no=1, page_size=10_000, sort_order="asc")
        assert res.total == len(expected) and (expected or flt.keyword == "stray"), flt
        assert [(e["line_number"], e["message"]) for e in got] == [(n, e["message"]) for n, e in expected], flt


@pytest.mark.parametrize("model", ["gevent", "gthread"])
def test_sse_under_gunicorn(app_ctx, settings, tmp_path, model):
    """Real server (either worker model, THREADS=4 -> 2 stream slots): events arrive while the file grows, a
    third concurrent stream is refused with the envelope, other requests still answer, slots come back on close.
    Also checks UTF-8 and hostile file names over real HTTP."""
    import json as _json
    import socket

    import requests

    from tests.server_process import ServerProcess

    app_ctx.db.execute("TRUNCATE data_pipeline_tasks CASCADE")
    # the fake running execution below has no real heartbeat: keep the monitor from failing it mid-test
    server = ServerProcess(settings.data_home, log_path=tmp_path / "api.log", threads=4, heartbeat_stale_s=600,
                           server_model=model).start()
    streams = []
    try:
        task_id = requests.post(server.base_url + API, json={"task_name": "sse"}, timeout=10).json()["data"]["task_id"]
        # a running execution owned by this (alive) process keeps the streams open
        app_ctx.db.execute(
            """INSERT INTO data_pipeline_task_executions (task_id, execution_id, execution_step, pid, host,
                   heartbeat_at) VALUES (%s, %s, 'ddl_generation', %s, %s, now())""",
            (task_id, f"{task_id}_step_ddl_generation_exec_x", os.getpid(), socket.gethostname()))
        path = app_ctx.task_dir(task_id) / LOG_FILE_NAME
        path.write_text("2025-06-27 14:00:00 [INFO] dp: [ddl_generation] old line\n", encoding="utf-8")
        # over real HTTP too: UTF-8 names download, hostile ones get the envelope (no redirect, no 404 page)
        (app_ctx.task_dir(task_id) / "服务区 说明.md").write_text("# 说明\n", encoding="utf-8")
        from urllib.parse import quote as _quote
        r = requests.get(f"{server.base_url}{API}/{task_id}/files/{_quote('服务区 说明.md')}", timeout=5)
        assert r.status_code == 200 and r.content.decode() == "# 说明\n"
        for hostile in ("..%2ftask_config.json", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd", "a%00b.txt"):
            r = requests.get(f"{server.base_url}{API}/{task_id}/files/{hostile}", timeout=5, allow_redirects=False)
            assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_FILE_NAME", (hostile, r.text)
        url = f"{server.base_url}{API}/{task_id}/logs/stream?from=end&heartbeat=1"
        first = requests.get(url, stream=True, timeout=10)
        assert first.status_code == 200
        streams.append(first)
        lines = first.iter_lines(decode_unicode=True)
        assert next(lines).startswith("retry:")
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("2025-06-27 14:00:05 [WARNING] dp: [ddl_generation] new line 表\n")
        payload, deadline = None, time.monotonic() + 60  # a deadline against a hang (heartbeats keep it open)
        for line in lines:
            if line.startswith("data:") and "new line" in line:
                payload = _json.loads(line[5:])
                break
            assert time.monotonic() < deadline, "the appended line was not streamed within 60 s"
        assert payload and payload["level"] == "WARNING" and payload["message"] == "new line 表"
        assert "old line" not in str(payload)
        streams.append(requests.get(url, stream=True, timeout=10))
        assert streams[-1].status_code == 200
        third = requests.get(url, stream=True, timeout=10)
        assert third.status_code == 409 and third.json()["error"]["code"] == "CONCURRENCY_LIMIT_REACHED"
        assert requests.get(f"{server.base_url}{API}/{task_id}/logs", timeout=5).status_code == 200
        for s in streams:
            s.close()
        streams.clear()

        def reopened():
            r = requests.get(url, stream=True, timeout=10)
            if r.status_code == 200:
                streams.append(r)
                return True
            r.close()
            return False
        from tests.executor_support import wait_for
        wait_for(reopened, 10, 0.3, "a stream slot to be released")
    finally:
        for s in streams:
            s.close()
        app_ctx.db.execute("UPDATE data_pipeline_task_executions SET status = 'failed' WHERE status = 'running'")
        server.stop()


def test_tail_with_rare_level_skips_blocks_but_keeps_entries_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(log_reader, "BLOCK", 256)
    lines = []
    for i in range(400):
        lines.append(f"2025-06-27 14:00:{i % 60:02d} [INFO] dp: [qa_generation] filler {i}")
        if i in (5, 390):
            lines.append(f"2025-06-27 14:00:{i % 60:02d} [CRITICAL] dp: [qa_generation] rare {i}")
            lines.extend(["Traceback (most recent call last):", "  deep", "KeyError: 'x'"])
    path = tmp_path / "r.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(path, "rb") as fh:
        got = log_reader.tail(fh, 10, {"CRITICAL"})
    assert [e["message"].split("\n")[0] for e in got] == ["rare 5", "rare 390"]
    assert all(e["message"].endswith("KeyError: 'x'") for e in got)
    with open(path, "rb") as fh:
        assert [e["message"] for e in log_reader.tail(fh, 2, {"INFO"})] == ["filler 398", "filler 399"]


def test_tail_of_an_overlong_line_stays_bounded(tmp_path):
    path = tmp_path / "junk.log"
    with open(path, "wb") as fh:
        fh.write(b"2025-06-27 14:00:00 [INFO] dp: [executor] before\n")
        fh.write(b"x" * (5 * log_reader.MAX_LINE) + b"\n")
        fh.write(b"2025-06-27 14:00:01 [INFO] dp: [executor] after\n")
    with open(path, "rb") as fh:
        entries = log_reader.tail(fh, 10)
    assert [e["message"].split("\n")[0] for e in entries] == ["before", "after"]
    assert len(entries[0]["message"]) < 10 * log_reader.LINE_KEEP + log_reader.MAX_LINE
