"""Single mutations of the SQL guard, catalog check, byte cap, read-only layers and secret sampling; each must be
caught by the tests that cover it (issue 23 point 3/7 and issue 27). Not in CI (about 4 minutes).

    .venv/bin/python bench/mutation_guard.py            # all mutations
    .venv/bin/python bench/mutation_guard.py catalog    # those whose name contains "catalog"

Each mutation replaces one exact snippet in one file (the script fails loudly if the snippet is gone, so it
cannot silently test nothing), runs the named tests, restores the file, and prints killed/survived.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
CORPUS = "tests/validation/test_guard_corpus.py"
GUARD = "tests/validation/test_sql_guard.py"

# name, file, original snippet, mutated snippet, tests
MUTATIONS = [
    ("catalog check skipped", "data_pipeline/validation/check.py",
     "problem = catalog_problem(cur, verdict.names)", "problem = None", CORPUS),
    ("catalog look-ups not schema-qualified", "data_pipeline/validation/catalog_check.py",
     '_T, _N = "pg_catalog.text", "pg_catalog.name"', '_T, _N = "text", "name"', CORPUS),
    ("user functions not looked up", "data_pipeline/validation/catalog_check.py",
     "return (f\"function {name} is defined in schema", "continue\n            (f\"function {name} is defined in schema",
     CORPUS),
    ("user operators not looked up", "data_pipeline/validation/catalog_check.py",
     "return (f\"operator {name} is defined", "continue\n            (f\"operator {name} is defined", CORPUS),
    ("domains not looked up", "data_pipeline/validation/catalog_check.py",
     "return f\"type {name} is {what}", "continue\n            f\"type {name} is {what}", CORPUS),
    ("system catalogs allowed", "data_pipeline/validation/catalog_check.py",
     "if schema in SYSTEM_SCHEMAS or", "if False and", CORPUS),
    ("user casts allowed", "data_pipeline/validation/catalog_check.py",
     "for source, target, function, oids in by_kind.get(\"cast\", []):",
     "for source, target, function, oids in []:", CORPUS),
    ("argument types of user functions never reachable", "data_pipeline/validation/catalog_check.py",
     "return oid == 0 or oid not in self.user or oid in self.reached", "return oid == 0 or oid not in self.user",
     CORPUS),
    ("types of the columns read not reachable", "data_pipeline/validation/catalog_check.py",
     "self.reached = {t for t in read_types}", "self.reached = set()", CORPUS),
    ("a domain over a reachable type not reachable", "data_pipeline/validation/catalog_check.py",
     "if ((typtype == \"d\" and self(base)) or", "if ((False) or", CORPUS),
    ("implicit user casts ignored", "data_pipeline/validation/catalog_check.py",
     "                        or any(b == oid and self(a) for a, b in implicit)):", "                        ):",
     CORPUS),
    ("every read column counts as a column, whatever x is", "data_pipeline/validation/catalog_check.py",
     "ok = bool(targets) and all((oid, field) in table_columns for oid in targets)", "ok = True", CORPUS),
    ("column notation of built-ins allowed", "data_pipeline/validation/catalog_check.py",
     "if field not in callable_fields:", "if True:", CORPUS),
    ("column notation not collected", "data_pipeline/validation/guard.py",
     "            self.functions.add(fields[-1])\n", "", CORPUS),
    ("implied operators not checked", "data_pipeline/validation/guard.py",
     "self.operators: set[str] = set(IMPLICIT_OPERATORS)", "self.operators: set[str] = set()", CORPUS),
    ("types not checked", "data_pipeline/validation/guard.py",
     "        if name not in SAFE_TYPES:", "        if False:", f"{GUARD} {CORPUS}"),
    ("reg*/aclitem allowed", "data_pipeline/validation/guard.py",
     "if _REG_TYPES.match(name.lower()) or", "if False and", f"{GUARD} {CORPUS}"),
    ("locking clauses allowed", "data_pipeline/validation/guard.py",
     "if key == \"lockingClause\":", "if False:", GUARD),
    ("SELECT INTO allowed", "data_pipeline/validation/guard.py", "if key == \"intoClause\":", "if False:", GUARD),
    ("any node kind allowed", "data_pipeline/validation/guard.py",
     "if kind not in _ALLOWED_NODES:", "if False:", f"{GUARD} {CORPUS}"),
    ("data-modifying CTE allowed", "data_pipeline/validation/guard.py",
     "if inner in _STATEMENT_WORDS:", "if False:", GUARD),
    ("functions outside the allowlist allowed", "data_pipeline/validation/guard.py",
     "if name not in ALLOWED_FUNCTIONS:", "if False:", f"{GUARD} {CORPUS}"),
    ("qualified functions allowed", "data_pipeline/validation/guard.py",
     "if len(names) > 1 and names[:-1] != [\"pg_catalog\"]:\n            raise _Refused(f\"function",
     "if False:\n            raise _Refused(f\"function", GUARD),
    ("deep nesting not caught in the guard", "data_pipeline/validation/guard.py",
     "except RecursionError:\n        return _reject(\"SQL nested too deeply",
     "except ZeroDivisionError:\n        return _reject(\"SQL nested too deeply", CORPUS),
    ("no per-pair try", "data_pipeline/validation/check.py",
     "        try:\n            return self._check(sql)\n        except (DatabaseConnectionError, psycopg2.Error):",
     "        try:\n            return self._check(sql)\n        except BaseException:", CORPUS),
    ("byte cap ignored", "data_pipeline/validation/check.py", "if size > self.byte_cap:", "if False:", CORPUS),
    ("session default_transaction_read_only dropped", "core/business_db.py",
     "options = (f\"-c default_transaction_read_only=on -c statement_timeout",
     "options = (f\"-c statement_timeout", "tests/test_readonly_layers.py"),
    ("BEGIN READ ONLY dropped", "core/business_db.py", "conn.set_session(readonly=True, autocommit=False)",
     "conn.set_session(autocommit=False)", "tests/test_readonly_layers.py"),
    ("our catalog reads under the database's search path", "core/business_db.py",
     "            cur.execute(_CATALOG_FIRST)\n", "", CORPUS),
    ("samples turned into text by a cast", "data_pipeline/schema/introspect.py",
     'pg_catalog.left(pg_catalog.format({1}, {0}), {2})', 'pg_catalog.left({0}::pg_catalog.text, {2})',
     CORPUS),
    ("base-table secrets sampled", "data_pipeline/schema/introspect.py",
     "withheld = {c.name for c in table.columns if pii.is_withheld_by_catalog(c, table)}", "withheld = set()",
     "tests/schema/test_secret_columns.py"),
]


def run(selected: str = "") -> int:
    killed, survived = [], []
    for name, rel, original, mutated, tests in MUTATIONS:
        if selected and selected not in name:
            continue
        path = ROOT / rel
        text = path.read_text(encoding="utf-8")
        if text.count(original) != 1:
            print(f"!! {name}: snippet not found exactly once in {rel}; update this script")
            return 2
        path.write_text(text.replace(original, mutated), encoding="utf-8")
        try:
            done = subprocess.run([PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests.split()],
                                  cwd=ROOT, capture_output=True, text=True, timeout=900)
        finally:
            path.write_text(text, encoding="utf-8")
        (killed if done.returncode != 0 else survived).append(name)
        print(f"{'killed  ' if done.returncode else 'SURVIVED'}  {name}", flush=True)
    total = len(killed) + len(survived)
    print(f"\nmutation score: {len(killed)}/{total} killed" + (f"; survivors: {survived}" if survived else ""))
    return 0 if not survived else 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else ""))
