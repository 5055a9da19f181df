"""Step 3's proof that each generated SQL is safe and works, the repair of those that do not, and the report.

In: pairs and a business database URL. Out: per-SQL verdicts, repaired pairs and `quality_report.json`.

    guard.py    static check (pure): exactly one read-only SELECT, only allowlisted functions, no locks
    allowed_functions.py  the function allowlist (and the names always refused), how it is maintained
    check.py    execution check on the business database: guard, EXPLAIN, capped run, always rolled back
    repair.py   LLM repair of failing SQL, batched, answers matched by pair id
    quality.py  the per-task quality report: coverage, difficulty, validation and comment numbers
"""
