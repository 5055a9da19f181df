"""Step 3's proof that each generated SQL is safe and works, the repair of those that do not, and the report.

In: pairs and a business database URL. Out: per-SQL verdicts, repaired pairs and `quality_report.json`.

    guard.py    static check (pure, PostgreSQL's parser via pglast): one read-only SELECT, allowlisted node
                kinds, functions and types, no locks; collects the names the catalog must judge
    allowed_functions.py  the function and type allowlists (and the names always refused), how they are kept
    catalog_check.py  those names against the business database's catalog: all resolve into pg_catalog
    check.py    execution check on the business database: guard, catalog check, EXPLAIN, row- and
                byte-capped run, always rolled back
    repair.py   LLM repair of failing SQL, batched, answers matched by pair id
    likely_failing.py  a guess without the database of which SQL will fail (to check those first)
    repair_ahead.py    round-1 repair calls sent before every pair is checked, used only for the same prompt
    quality.py  the per-task quality report: coverage, difficulty, validation and comment numbers
"""
