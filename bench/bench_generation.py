"""ddl_generation + qa_generation on 20 tables with the LLM pointed at a simulator: makespan vs the LLM bound.

    .venv/bin/python bench/bench_generation.py [--latency 1.0] [--concurrency 4] [--tables 20]

Sets up a throw-away embedded PostgreSQL (temporary data home) with a scratch business database of `--tables`
tables (a generic retail schema with foreign keys, some comments missing, a few thousand rows each), starts
tests/openai_stub.OpenAIStub with a fixed `--latency` per answer and a responder that answers each prompt kind
(ddl_comments, qa_themes, qa_pairs) with valid JSON, then runs the two real steps with one LLMClient.

Lower bound = what the LLM alone forces: the ddl calls (one per table) spread over `concurrency` slots, then the
one theme call (it needs every table's doc: a true barrier), then the per-theme calls:
    bound = latency × (ceil(ddl_calls / C) + 1 + ceil(theme_pair_calls / C))
Also printed, the naive bound latency × all_calls / C (it ignores that the theme call is a barrier).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2  # noqa: E402

from app_config import load_settings  # noqa: E402
from core import embedded_pg  # noqa: E402
from core.db import Database  # noqa: E402
from core.llm import make_llm  # noqa: E402
from data_pipeline.steps import ddl_generation, qa_generation  # noqa: E402
from data_pipeline.steps.base import StepContext  # noqa: E402
from data_pipeline.taskfiles.table_list import parse_names  # noqa: E402
from tests.business_roles import reader_url  # noqa: E402
from tests.openai_stub import OpenAIStub, Reply  # noqa: E402

# name, comment (None: missing on purpose), columns "name type", foreign keys (column -> parent)
SCHEMA = [
    ("regions", "区域表", ["name varchar(50)", "level varchar(20)"], {}),
    ("warehouses", "仓库信息表", ["name varchar(50)", "capacity integer"], {"region_id": "regions"}),
    ("stores", "门店信息表", ["name varchar(50)", "store_type varchar(20)", "opened_on date"], {"region_id": "regions"}),
    ("categories", "商品类目表", ["name varchar(50)"], {}),
    ("suppliers", None, ["name varchar(50)", "grade varchar(10)"], {"region_id": "regions"}),
    ("products", "商品表", ["name varchar(80)", "price numeric(10,2)", "brand varchar(30)"],
     {"category_id": "categories", "supplier_id": "suppliers"}),
    ("customers", "客户表", ["name varchar(30)", "phone varchar(20)", "city varchar(30)", "member_level varchar(10)"], {}),
    ("employees", "员工表", ["name varchar(30)", "role varchar(20)"], {"store_id": "stores"}),
    ("orders", "订单表", ["order_date date", "amount numeric(12,2)", "status varchar(10)"],
     {"customer_id": "customers", "store_id": "stores"}),
    ("order_items", "订单明细表", ["qty integer", "amount numeric(12,2)"], {"order_id": "orders", "product_id": "products"}),
    ("payments", "支付流水表", ["method varchar(10)", "amount numeric(12,2)", "paid_at timestamp"], {"order_id": "orders"}),
    ("refunds", None, ["amount numeric(12,2)", "reason varchar(20)"], {"payment_id": "payments"}),
    ("couriers", "配送员表", ["name varchar(30)", "company varchar(30)"], {}),
    ("deliveries", "配送单表", ["status varchar(10)", "delivered_on date"],
     {"order_id": "orders", "courier_id": "couriers"}),
    ("inventory", "库存表", ["qty integer"], {"warehouse_id": "warehouses", "product_id": "products"}),
    ("purchase_orders", "采购单表", ["amount numeric(12,2)", "ordered_on date"],
     {"supplier_id": "suppliers", "warehouse_id": "warehouses"}),
    ("promotions", "促销活动表", ["name varchar(50)", "kind varchar(10)", "starts_on date"], {}),
    ("promotion_products", None, [], {"promotion_id": "promotions", "product_id": "products"}),
    ("reviews", "商品评价表", ["rating integer", "reviewed_on date"],
     {"product_id": "products", "customer_id": "customers"}),
    ("shifts", "排班表", ["work_date date", "hours numeric(4,1)"], {"employee_id": "employees"}),
]
ROWS = 2000


def _value(col: str, kind: str) -> str:
    if kind.startswith("varchar"):
        if col in ("level", "store_type", "grade", "member_level", "role", "status", "method", "reason", "kind",
                   "company", "brand", "city"):
            return f"(ARRAY['A','B','C','D'])[1 + g % 4] || '{col[:2]}'"
        if col == "phone":
            return "'138' || lpad((g * 7919 % 100000000)::text, 8, '0')"
        return f"'{col}_' || g"
    if kind.startswith(("integer", "numeric")):
        return "(g * 37 % 500) + 1"
    if kind.startswith("date"):
        return "date '2024-01-01' + (g % 365)"
    return "timestamp '2024-01-01' + (g % 365) * interval '1 day'"


def create_schema(url: str, n_tables: int) -> list[str]:
    schema = SCHEMA[:n_tables]
    names = {s[0] for s in schema}
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for name, comment, cols, fks in schema:
            fks = {c: p for c, p in fks.items() if p in names}
            body = ["id integer PRIMARY KEY"] + cols + [f"{c} integer REFERENCES {p}(id)" for c, p in fks.items()]
            if name in ("orders", "customers", "products"):
                body.append("deleted_at timestamp")
            cur.execute(f"CREATE TABLE {name} ({', '.join(body)})")
            if comment:
                cur.execute(f"COMMENT ON TABLE {name} IS %s", (comment,))
            values = ["g"] + [_value(*c.split(" ", 1)) for c in cols] + [f"1 + (g * 13 % {ROWS})" for _ in fks]
            targets = ["id"] + [c.split(" ")[0] for c in cols] + list(fks)
            cur.execute(f"INSERT INTO {name} ({', '.join(targets)}) SELECT {', '.join(values)} "
                        f"FROM generate_series(1, {ROWS}) AS g")
        cur.execute("ANALYZE")
    conn.close()
    return [s[0] for s in schema]


class Simulator:
    """Answers the three prompt kinds with valid JSON; remembers the themes it made up for the pair calls."""

    def __init__(self, table_names: list[str]):
        self.tables = table_names
        self.theme_tables: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def __call__(self, req: dict) -> Reply:
        prompt = req["messages"][-1]["content"]
        if "需要生成注释的字段" in prompt:
            missing = json.loads(re.search(r"需要生成注释的字段：(\[.*?\])", prompt).group(1))
            return Reply(content=json.dumps({"table_comment": "模拟表", "table_description": "模拟说明",
                                             "columns": {c: f"{c}说明" for c in missing}}, ensure_ascii=False))
        if "归纳为最多" in prompt:
            count = int(re.search(r"归纳为最多 (\d+) 个", prompt).group(1))
            size = math.ceil(len(self.tables) / count)
            themes = [{"topic_name": f"主题{i + 1}", "description": "模拟主题", "biz_entities": ["实体"],
                       "biz_metrics": ["指标"], "related_tables": self.tables[i * size:(i + 1) * size]}
                      for i in range(count) if self.tables[i * size:(i + 1) * size]]
            with self.lock:
                self.theme_tables = {t["topic_name"]: t["related_tables"] for t in themes}
            return Reply(content=json.dumps({"themes": themes}, ensure_ascii=False))
        topic = re.search(r"业务主题：(\S+)", prompt).group(1)
        count = int(re.search(r"写 (\d+) 个", prompt).group(1))
        with self.lock:
            tables = self.theme_tables[topic]
        aggs = ("count", "max", "min", "sum", "avg")   # distinct templates: a simulator's pairs are not duplicates
        combos = [(t, a) for a in aggs for t in tables][:count]
        pairs = [{"question": f"{topic}：{t}的{a}统计是多少？", "sql": f"SELECT {a}(id) FROM {t} WHERE id > 10",
                  "difficulty": "aggregate"} for t, a in combos]
        return Reply(content=json.dumps(pairs, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tables", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="dp_bench_gen_"))
    try:
        server = embedded_pg.attach(home / "data" / "pgdata")
        admin = psycopg2.connect(server)
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE bench_business")
        admin.close()
        business_url = embedded_pg.uri_for(server, "bench_business")
        names = create_schema(business_url, args.tables)
        business_url = reader_url(business_url)   # read as a SELECT-only role: a superuser URL is refused
        sim = Simulator(names)
        with OpenAIStub(latency=args.latency) as stub:
            stub.responder = sim
            settings = load_settings({"data_home": home, "llm_base_url": stub.base_url, "llm_model": "sim",
                                      "llm_max_concurrency": args.concurrency, "log_level": "WARNING"}, environ={})
            llm = make_llm(settings)
            task_dir = home / "task"
            task_dir.mkdir()
            ctx = StepContext(task_id="task_20250101_000000", task_dir=task_dir, params={"db_name": "bench"},
                              options={}, settings=settings, business_url=business_url,
                              meta_db=Database(server), tables=parse_names(names),
                              logger=logging.getLogger("bench"), llm=llm)
            t0 = time.perf_counter()
            ddl = ddl_generation.run(ctx)
            t1 = time.perf_counter()
            qa = qa_generation.run(ctx)
            t2 = time.perf_counter()
            usage = llm.usage.to_dict()
            peak = stub.max_in_flight
            llm.close()
        by = usage.get("by_purpose", {})
        ddl_calls = by.get("ddl_comments", {}).get("calls", 0)
        theme_calls = by.get("qa_themes", {}).get("calls", 0)
        pair_calls = by.get("qa_pairs", {}).get("calls", 0)
        c, lat = args.concurrency, args.latency
        bound = lat * (math.ceil(ddl_calls / c) + theme_calls + math.ceil(pair_calls / c))
        naive = lat * usage["calls"] / c
        makespan = t2 - t0
        print(f"tables {len(names)}  latency {lat:.2f}s  concurrency {c}  peak in-flight {peak}")
        print(f"LLM calls {usage['calls']} (ddl {ddl_calls}, themes {theme_calls}, theme pairs {pair_calls}), "
              f"failures {usage['failures']}, retries {usage['retries']}")
        print(f"ddl_generation {t1 - t0:.2f}s  qa_generation {t2 - t1:.2f}s  makespan {makespan:.2f}s")
        print(f"qa: {qa.summary['themes']} themes, {qa.summary['pairs']} pairs, tables "
              f"{qa.summary['tables_covered']}/{qa.summary['tables_total']}, FK edges "
              f"{qa.summary['fk_edges_covered']}/{qa.summary['fk_edges_total']}, "
              f"top-up {qa.summary['coverage_top_up']}, "
              f"duplicates {qa.summary['duplicates_removed']}; ddl succeeded {ddl.summary['succeeded']}")
        if bound > 0:
            print(f"critical-path bound {bound:.2f}s  ratio {makespan / bound:.3f}   "
                  f"(naive all-calls/C bound {naive:.2f}s, ratio {makespan / naive:.3f})")
    finally:
        embedded_pg.detach()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
