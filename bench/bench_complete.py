"""A complete run through the API vs the LLM bound: where the time beyond the LLM's own waves goes (issue 26).

    .venv/bin/python bench/bench_complete.py [--tables 7 12 20] [--concurrency 4 8] [--rounds 1]
                                             [--chat-latency 1.0] [--embedding-latency 0.05] [--json runs.json]
    .venv/bin/python bench/bench_complete.py --summarize before=b1.json,b2.json after=a1.json,a2.json

The served app (`python citu_app.py`, gunicorn, fresh temporary data home) with its LLM and its embedding
service pointed at tests/openai_stub.OpenAIStub, which answers every chat call in `--chat-latency` s and every
/embeddings call in `--embedding-latency` s. The business databases are bench_generation's generic retail schema
(7, 12 and 20 tables with foreign keys, 2000 rows each), read through a SELECT-only role. The simulated LLM
answers the ddl-comment, theme, pair and repair prompts with valid JSON; one pair per theme names a column that
does not exist, so every run has a repair wave as well.

For each run: POST …/execute (complete mode), then the stub's call log gives the waves the LLM alone forces:
    bound = chat × (ceil(ddl/C) + themes + ceil(pairs/C) + ceil(repairs/C)) + embedding × ceil(batches/C)
and the gaps around them (all from the same clock):
    POST→1st LLM     POST sent -> first ddl-comment call received
    exec start       POST sent -> ddl_generation started (process spawn, imports, attach; step_details)
    catalog          ddl_generation's own catalog/counts/samples read time (its summary's read_seconds)
    ddl→themes       last ddl answer -> theme call received
    themes→pairs     theme answer -> first pair call received
    in waves         the waves' own spread: (last answer - first call - latency x waves) of ddl, pairs and repair
    pairs→repair     last pair answer -> first repair call received (validation of the pairs)
    repair→embed     last repair answer -> first /embeddings call received after it (texts final earlier are
                     embedded during validation: steps/embeddings_ahead.py)
    embeddings       that call received -> the last /embeddings call answered
    embed→finished   last /embeddings answer -> the execution's completed_at
Load averages (`os.getloadavg()`) are printed with every run: this machine is shared.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from datetime import datetime

from _served import BASE, DEMO_TABLES, fresh_home, remove_home

HOME = fresh_home("dp_bench_complete_")

import psycopg2  # noqa: E402
import requests  # noqa: E402

from app_config import load_settings  # noqa: E402
from bench_generation import Simulator, create_schema  # noqa: E402
from core import embedded_pg  # noqa: E402
from data_pipeline.context import build_context  # noqa: E402
from tests.business_roles import reader_url  # noqa: E402
from tests.executor_support import llm_overrides, wait_for  # noqa: E402
from tests.openai_stub import OpenAIStub, Reply  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

FINAL = ("completed", "partial_completed", "failed", "cancelled")
REPAIR_ITEMS = re.compile(r"（JSON 数组）：\n(.*?)\n\n请逐项修复", re.S)


def kind_of(prompt: str) -> str:
    if "需要生成注释的字段" in prompt:
        return "ddl"
    if "归纳为最多" in prompt:
        return "themes"
    if "pair_id" in prompt:
        return "repair"
    return "pairs"


class CompleteRunSimulator(Simulator):
    """bench_generation's simulator, plus one broken pair per theme and answers to the repair prompt."""

    def __init__(self, tables: list[str], latency: float):
        super().__init__(tables)
        self.latency = latency

    def __call__(self, req: dict) -> Reply:
        prompt = req["messages"][-1]["content"]
        if kind_of(prompt) == "repair":
            items = json.loads(REPAIR_ITEMS.search(prompt).group(1))
            fixed = [{"pair_id": i["pair_id"], "sql": re.sub(r"\bno_such_column\b", "id", i["sql"])} for i in items]
            return Reply(content=json.dumps({"repairs": fixed}, ensure_ascii=False), delay=self.latency)
        reply = super().__call__(req)
        if kind_of(prompt) == "pairs":
            pairs = json.loads(reply.content)
            if pairs:
                table = re.search(r"FROM (\w+)", pairs[0]["sql"]).group(1)
                pairs.append({"question": f"{table}的无效列合计是多少？",
                              "sql": f"SELECT sum(no_such_column) FROM {table}", "difficulty": "aggregate"})
            reply.content = json.dumps(pairs, ensure_ascii=False)
        reply.delay = self.latency
        return reply


def business_database(server_uri: str, n_tables: int) -> tuple[str, list[str]]:
    name = f"bench_complete_{n_tables}"
    admin = psycopg2.connect(server_uri)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    admin.close()
    url = embedded_pg.uri_for(server_uri, name)
    tables = create_schema(url, n_tables)
    return reader_url(url), tables


def iso_ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def one_run(url: str, stub: OpenAIStub, sim: CompleteRunSimulator, business_url: str, tables: list[str],
            concurrency: int, chat_s: float, embed_s: float) -> dict:
    stub.reset()
    stub.responder = sim
    stub.embedding_responder = lambda _req: Reply(delay=embed_s)
    body = {"table_names": tables, "task_name": f"bench{len(tables)}", "db_name": "bench"}
    if business_url:   # None: the service's default (demo) database
        body["db_connection"] = business_url
    task = requests.post(url + BASE, json=body, timeout=60)
    assert task.status_code in (200, 201), task.text
    task_id = task.json()["data"]["task_id"]
    load = os.getloadavg()
    sent = time.time()
    resp = requests.post(f"{url}{BASE}/{task_id}/execute", json={"execution_mode": "complete"}, timeout=60)
    assert resp.status_code == 202, resp.text
    execution_id = resp.json()["data"]["execution_id"]
    session = requests.Session()

    def finished():
        data = session.get(f"{url}{BASE}/{task_id}?include=result", timeout=30).json()["data"]
        return data if data["status"] in FINAL and data["current_step"] is None else None
    status = wait_for(finished, 600, 0.05, "the complete run")
    executions = session.get(f"{url}{BASE}/{task_id}/executions", timeout=30).json()["data"]["executions"]
    execution = next(e for e in executions if e["execution_id"] == execution_id)
    ended = iso_ts(execution["completed_at"])
    steps = {s["step_name"]: s for s in status["steps"]}
    ddl_summary = ((status.get("result") or {}).get("steps") or {}).get("ddl_generation") or {}

    calls: dict[str, list[float]] = {"ddl": [], "themes": [], "pairs": [], "repair": [], "embeddings": []}
    for r in stub.requests:
        if r.endpoint == "chat":
            calls[kind_of(r.prompt_text())].append(r.received_at)
        elif r.endpoint == "embeddings":
            calls["embeddings"].append(r.received_at)
    c = concurrency
    waves = {k: math.ceil(len(v) / c) for k, v in calls.items()}
    waves["themes"] = len(calls["themes"])
    bound = chat_s * (waves["ddl"] + waves["themes"] + waves["pairs"] + waves["repair"]) + embed_s * waves["embeddings"]
    wall = ended - sent

    def first(kind):
        return min(calls[kind]) if calls[kind] else float("nan")

    def last_end(kind, latency):
        return max(calls[kind]) + latency if calls[kind] else float("nan")
    before_embed = last_end("repair", chat_s) if calls["repair"] else last_end("pairs", chat_s)
    # embeddings requested during validation (steps/embeddings_ahead.py) are off the path: the gap is to the first
    # /embeddings call after the LLM's last answer (nan when every text was embedded before it)
    after = [t for t in calls["embeddings"] if t >= before_embed]
    first_embed_after = min(after) if after else float("nan")
    return {
        "task_id": task_id, "tables": len(tables), "C": c, "status": status["status"], "wall": wall, "bound": bound,
        "ratio": wall / bound if bound else float("nan"), "load": load,
        "calls": {k: len(v) for k, v in calls.items()}, "peak": stub.max_in_flight,
        "warnings": sorted({w.get("code", "?") for w in status.get("warnings") or []}),
        "post_first": first("ddl") - sent,
        "exec_start": iso_ts(steps["ddl_generation"]["started_at"]) - sent,
        "catalog": float(ddl_summary.get("read_seconds") or float("nan")),
        "ddl_themes": first("themes") - last_end("ddl", chat_s),
        "themes_pairs": first("pairs") - last_end("themes", chat_s),
        # the LLM waves' own spread: a wave's calls do not all leave at once (prompts built one after another)
        "in_waves": sum(last_end(k, chat_s) - first(k) - chat_s * waves[k] for k in ("ddl", "pairs", "repair")
                        if calls[k]),
        "pairs_repair": first("repair") - last_end("pairs", chat_s),
        "repair_embed": first_embed_after - before_embed,
        "embeddings": last_end("embeddings", embed_s) - first_embed_after,
        "embed_finished": ended - last_end("embeddings", embed_s),
    }


HEADER = (f"{'tables':>6} {'C':>2} {'wall':>6} {'bound':>6} {'ratio':>6} | {'POST→1st':>8} {'exec':>5} "
          f"{'catalog':>7} {'ddl→th':>6} {'th→pr':>5} {'waves+':>6} {'pr→rep':>6} {'rep→emb':>7} {'embed':>6} {'emb→fin':>7} | calls d/t/p/r/e "
          f"| load 1/5/15")


def row(r: dict) -> str:
    k = r["calls"]
    return (f"{r['tables']:>6} {r['C']:>2} {r['wall']:6.2f} {r['bound']:6.2f} {r['ratio']:6.3f} | "
            f"{r['post_first']:8.2f} {r['exec_start']:5.2f} {r['catalog']:7.2f} {r['ddl_themes']:6.2f} {r['themes_pairs']:5.2f} {r['in_waves']:6.2f} "
            f"{r['pairs_repair']:6.2f} {r['repair_embed']:7.2f} {r['embeddings']:6.2f} {r['embed_finished']:7.2f} | "
            f"{k['ddl']}/{k['themes']}/{k['pairs']}/{k['repair']}/{k['embeddings']} | "
            f"{r['load'][0]:.2f} {r['load'][1]:.2f} {r['load'][2]:.2f}"
            + ("" if r["status"] == "completed" else f"  [{r['status']}: {','.join(r['warnings'])}]"))


def dump_outputs(ctx, task_id: str, target: str) -> None:
    """The task directory's files and the vector rows (collection, document, metadata without the random id,
    embedding), for comparing two code versions' outputs."""
    import shutil
    from pathlib import Path
    out = Path(target)
    shutil.copytree(ctx.task_dir(task_id), out / "files", dirs_exist_ok=True)
    rows = ctx.db.fetchall("SELECT c.name AS collection, e.document, e.cmetadata, e.embedding::text AS embedding "
                           "FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id")
    for r in rows:
        r["cmetadata"] = {k: v for k, v in (r["cmetadata"] or {}).items() if k != "id"}
    rows.sort(key=lambda r: (r["collection"], r["document"], r["embedding"]))
    (out / "vectors.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(f"outputs of {task_id} written to {out}")


COLUMNS = ("wall", "bound", "ratio", "post_first", "exec_start", "catalog", "ddl_themes", "themes_pairs", "in_waves",
           "pairs_repair", "repair_embed", "embeddings", "embed_finished")


def summarize(groups: dict[str, list[str]]) -> None:
    """Median of every column per (tables, C) for each labelled group of --json files, side by side."""
    import statistics
    # on a shared machine the executor's start is the noisiest part (pgserver attaches under one machine-wide lock
    # that other users' servers hold while they start or stop): its minimum, and the ratio without it, are shown
    print(f"{'':8}{'tables':>6} {'C':>2} {'runs':>4} " + " ".join(f"{c[:9]:>9}" for c in COLUMNS)
          + f" {'exec_min':>9} {'rest/bnd':>9}  load1 min-max")
    for label, paths in groups.items():
        runs = [r for path in paths for r in json.load(open(path))]
        for key in sorted({(r["tables"], r["C"]) for r in runs}):
            group = [r for r in runs if (r["tables"], r["C"]) == key]
            loads = [r["load"][0] for r in group]
            print(f"{label:8}{key[0]:>6} {key[1]:>2} {len(group):>4} "
                  + " ".join(f"{statistics.median(r.get(c, math.nan) for r in group):9.3f}" for c in COLUMNS)
                  + f" {min(r['exec_start'] for r in group):9.3f}"
                  + f" {statistics.median((r['wall'] - r['exec_start']) / r['bound'] for r in group):9.3f}"
                  + f"  {min(loads):.1f}-{max(loads):.1f}")


def main() -> int:
    if "--summarize" in sys.argv:   # --summarize LABEL=a.json,b.json LABEL2=c.json ...: no run, medians only
        import shutil
        shutil.rmtree(HOME, ignore_errors=True)
        summarize({arg.split("=", 1)[0]: arg.split("=", 1)[1].split(",") for arg in sys.argv[2:]})
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, nargs="+", default=[7, 12, 20])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--chat-latency", type=float, default=1.0)
    parser.add_argument("--embedding-latency", type=float, default=0.05)
    parser.add_argument("--json", help="also write every run's numbers to this file")
    parser.add_argument("--rule-based", action="store_true", help="no LLM and the built-in embedder (with --dump: "
                                                                   "the zero-configuration outputs)")
    parser.add_argument("--keep", action="store_true", help="keep the data home (task logs) for reading")
    parser.add_argument("--dump", help="run the demo database's tables once (the first --concurrency) and copy "
                                       "the task's files and vector rows to this directory (bench/compare_outputs.py)")
    args = parser.parse_args()
    if args.dump:
        args.rounds, args.concurrency = 1, args.concurrency[:1]
    ctx = build_context(load_settings({"data_home": HOME, "log_level": "WARNING"}))  # embedded PG + demo DB
    server_uri = ctx.runtime.meta_url   # the embedded server (a superuser URL: creates the scratch databases)
    databases = {n: business_database(server_uri, n) for n in args.tables} if not args.dump else \
        {len(DEMO_TABLES): (None, DEMO_TABLES)}   # --dump: the demo database, its own tables
    stub = OpenAIStub().start()
    servers = {}
    results = []
    try:
        for c in args.concurrency:
            overrides = llm_overrides(stub, llm_max_concurrency=c, embedding_base_url=stub.base_url,
                                      embedding_model="stub-embedding", embedding_api_key="sk-test-key",
                                      llm_max_retries=2)
            if args.rule_based:   # the zero-configuration path: no LLM, the built-in embedder
                overrides = {"llm_base_url": "", "llm_model": "", "llm_max_concurrency": c}
            servers[c] = ServerProcess(HOME, f"bench_complete_c{c}", **overrides).start()
        print(HEADER)
        for _ in range(args.rounds):
            for n in databases:
                business_url, tables = databases[n]
                for c in args.concurrency:
                    sim = CompleteRunSimulator(tables, args.chat_latency)
                    r = one_run(servers[c].base_url, stub, sim, business_url, tables, c, args.chat_latency,
                                args.embedding_latency)
                    results.append(r)
                    print(row(r), flush=True)
        if args.dump:
            dump_outputs(ctx, results[-1]["task_id"], args.dump)
        if args.json:
            with open(args.json, "w") as out:
                json.dump(results, out, indent=1)
    finally:
        for server in servers.values():
            server.stop()
        stub.stop()
        ctx.db.close()
        if args.keep:
            print(f"data home kept: {HOME}")
        else:
            remove_home(HOME)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
