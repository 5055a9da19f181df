"""Our copy of Vanna's prompt and SQL extraction is Vanna's: the same messages as VannaBase.get_sql_prompt and the
same SQL as VannaBase.extract_sql (vanna==2.0.2's legacy base, test-only), on the same inputs."""
from __future__ import annotations

import pytest

from data_pipeline.evaluation.accuracy import extract_sql, vanna_messages
from tests.optional_deps import import_or_skip
from tests.vanna_messages import VannaMessages

base = import_or_skip("vanna.legacy.base.base", reason="vanna==2.0.2 from requirements-dev.txt")


class Probe(VannaMessages):
    """Just the parts of VannaBase the prompt uses, with OpenAI_Chat's message shapes and a PostgreSQL dialect."""
    dialect = "PostgreSQL"
    max_tokens = 14000
    static_documentation = ""
    get_sql_prompt = base.VannaBase.get_sql_prompt
    add_ddl_to_prompt = base.VannaBase.add_ddl_to_prompt
    add_documentation_to_prompt = base.VannaBase.add_documentation_to_prompt
    str_to_approx_token_count = base.VannaBase.str_to_approx_token_count
    extract_sql = base.VannaBase.extract_sql

    def log(self, *args, **kwargs):
        pass


DDL = ["CREATE TABLE bss_company (id varchar(32), company_name varchar(255));",
       "CREATE TABLE bss_service_area (id varchar(32), company_id varchar(32));" + " -- filler" * 9000]
DOCS = ["## bss_company 公司表\n公司名称 company_name", "## bss_service_area 服务区"]
PAIRS = [{"question": "公司共有多少家？", "sql": "SELECT COUNT(*) FROM bss_company"},
         {"question": "各公司的服务区数量？", "sql": "SELECT company_id, COUNT(*) FROM bss_service_area GROUP BY 1"}]


@pytest.mark.parametrize("ddl, docs, pairs", [(DDL, DOCS, PAIRS), (DDL[:1], [], []), ([], DOCS, PAIRS[:1])])
def test_messages_equal_vannas_get_sql_prompt(ddl, docs, pairs):
    question = "哪家公司的服务区最多？"
    assert vanna_messages(question, ddl, docs, pairs) == Probe().get_sql_prompt(None, question, list(pairs),
                                                                                list(ddl), list(docs))


@pytest.mark.parametrize("answer", [
    "```sql\nSELECT COUNT(*) FROM bss_company\n```",
    "Here it is: SELECT a FROM t; and again SELECT b FROM t;",
    "WITH x AS (SELECT 1) SELECT * FROM x;",
    "```\nSELECT 1\n```",
    "I cannot answer that.",
    "```sql\nSELECT count(*) FROM bss_company; DROP TABLE bss_company\n```",
])
def test_sql_extraction_equals_vannas(answer):
    assert extract_sql(answer) == Probe().extract_sql(answer)
