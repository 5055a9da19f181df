"""A secret column of a base table is never selected while sampling or profiling (issue 27).

Proof by privilege, not by inspecting our own queries: the reading role may SELECT every column of the table
except the secret one (column-level GRANT). A sample, profile or pg_stats read that named the secret column
would fail with "permission denied" (and leave the other columns without samples); reading around it works.
"""
from __future__ import annotations

import pytest

from data_pipeline.schema.introspect import introspect
from data_pipeline.taskfiles.table_list import TableRef
from tests.business_roles import with_user
from tests.ddl_fixture_db import admin_url, run_sql, scratch_db

ROLE = "secret_columns_reader"
SECRET_VALUE = "hunter2-never-read"


@pytest.fixture(scope="module")   # only read by the tests
def secret_db(app_ctx):
    with scratch_db(admin_url(app_ctx), "secret_columns") as url:
        run_sql(url, f"""
            CREATE TABLE public.account (id int PRIMARY KEY, login text, level text, owner_password text);
            INSERT INTO public.account
              SELECT i, 'user' || i, (ARRAY['low', 'mid', 'high'])[1 + i % 3], '{SECRET_VALUE}' || i
              FROM generate_series(1, 50) i;
            ANALYZE public.account;
            CREATE TABLE public.fresh_account (LIKE public.account);       -- never analysed: no pg_stats
            INSERT INTO public.fresh_account SELECT * FROM public.account WHERE id <= 30;   -- under autovacuum's 50
            DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
              CREATE ROLE {ROLE} LOGIN; END IF; END$$;
            GRANT CONNECT ON DATABASE secret_columns TO {ROLE};
            GRANT USAGE ON SCHEMA public TO {ROLE};
            GRANT SELECT (id, login, level) ON public.account TO {ROLE};
            GRANT SELECT (id, login, level) ON public.fresh_account TO {ROLE};
            CREATE VIEW public.account_view AS SELECT id, login, level, owner_password AS pw FROM public.account;
            GRANT SELECT (id, login, level) ON public.account_view TO {ROLE};""")
        yield with_user(url, ROLE)


def test_sampling_and_profiling_never_select_a_secret_column(secret_db, settings):
    [table], missing = introspect(secret_db, [TableRef("public", "account")], settings)
    assert missing == []
    by_name = {c.name: c for c in table.columns}
    # the reads ran (they would all fail had they named owner_password) ...
    assert by_name["login"].samples and by_name["level"].samples
    assert by_name["level"].distinct_count == 3
    # ... and the secret has nothing: no sample, no profile
    secret = by_name["owner_password"]
    assert secret.samples == [] and secret.top_values == [] and secret.distinct_count is None
    assert SECRET_VALUE not in repr(table)


def test_profiling_by_reading_never_selects_a_secret_column(secret_db, settings):
    """Without pg_stats the enum-like candidates are profiled by reading rows: the secret one (a text column, a
    candidate by its type) is left out of that read too, so the read works and profiles the others."""
    [table], _ = introspect(secret_db, [TableRef("public", "fresh_account")], settings)
    by_name = {c.name: c for c in table.columns}
    assert by_name["level"].distinct_count == 3 and by_name["level"].is_enum_like
    assert sorted(v.value for v in by_name["level"].top_values) == ["high", "low", "mid"]
    secret = by_name["owner_password"]
    assert secret.samples == [] and secret.top_values == [] and secret.distinct_count is None
    assert SECRET_VALUE not in repr(table)


def test_a_view_column_computed_from_a_secret_is_never_selected(secret_db, settings):
    """`pw` is named innocently; the view's lineage says it is owner_password: it is withheld before any read
    (the reading role may not select it), and the view's other columns are read."""
    [view], _ = introspect(secret_db, [TableRef("public", "account_view")], settings)
    by_name = {c.name: c for c in view.columns}
    assert by_name["login"].samples and by_name["level"].samples
    assert by_name["pw"].samples == [] and by_name["pw"].top_values == []
    assert SECRET_VALUE not in repr(view)
