"""A pair's complexity level from its final SQL (OmniSQL's four levels), the one definition every step uses.

    simple          one table, no grouping, no filter, no subquery
    moderate        one join, or a grouping, or a filter
    complex         two or more joins, a subquery, a window, HAVING or a CTE
    highly complex  complex plus three or more of those features (a third join, CASE and date arithmetic
                    count too)

Same rules as ../shared/tools/pair_lint.py, so a generated `meta.complexity` and the lint agree. Literals are
blanked first: a keyword inside a quoted value is not structure.
"""
from __future__ import annotations

import re

LEVELS = ("simple", "moderate", "complex", "highly complex")


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def sql_features(sql: str) -> dict:
    s = _strip_literals(sql).upper()
    return {
        "joins": len(re.findall(r"\bJOIN\b", s)),
        "group": bool(re.search(r"\bGROUP\s+BY\b", s)),
        "where": bool(re.search(r"\bWHERE\b", s)),
        "subquery": len(re.findall(r"\(\s*SELECT\b", s)),
        "window": bool(re.search(r"\bOVER\s*\(", s)),
        "having": bool(re.search(r"\bHAVING\b", s)),
        "cte": s.lstrip().startswith("WITH"),
        "case": bool(re.search(r"\bCASE\b", s)),
        "time": bool(re.search(r"DATE_TRUNC|EXTRACT\(|INTERVAL|::DATE|TO_CHAR\(", s)),
        "agg": bool(re.search(r"\b(COUNT|SUM|AVG|MIN|MAX)\s*\(", s)),
    }


def complexity(sql: str) -> str:
    """One of LEVELS for `sql`."""
    f = sql_features(sql)
    hard = (f["joins"] >= 2) + bool(f["subquery"]) + f["window"] + f["having"] + f["cte"]
    if hard and hard + (f["joins"] >= 3) + f["case"] + f["time"] >= 3:
        return "highly complex"
    if hard:
        return "complex"
    if f["joins"] or f["group"] or f["where"]:
        return "moderate"
    return "simple"
