"""What introspection learns about business tables, shared by every step.

`ddl_generation` writes it (with generated comments filled in) to `schema_snapshot.json` in the task directory;
later steps read it back with `load_snapshot`. Sample and profile values in it are already PII-masked.
Fields may be added; existing ones are not renamed (other steps read them).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

SNAPSHOT_FILE = "schema_snapshot.json"


@dataclass
class ValueCount:
    value: str
    count: int


@dataclass
class Column:
    name: str
    data_type: str                      # formatted, e.g. "character varying(255)", "numeric(19,4)"
    nullable: bool = True
    default: Optional[str] = None
    comment: Optional[str] = None       # the database's own comment (PII-shaped substrings masked), or None
    generated_comment: Optional[str] = None   # ours (LLM or rule-based), used only where `comment` is None
    is_primary_key: bool = False
    max_length: Optional[int] = None
    ordinal: int = 0
    enum_values: list[str] = field(default_factory=list)      # PostgreSQL enum / domain check values
    samples: list[str] = field(default_factory=list)          # masked where PII
    distinct_count: Optional[int] = None
    null_fraction: Optional[float] = None
    top_values: list[ValueCount] = field(default_factory=list)  # for enum-like columns
    is_enum_like: bool = False
    pii_kind: Optional[str] = None      # phone, id_card, email, person_name, address, card_number, iban,
    #                                     birth_date, secret
    # --- appended by introspection (ddl engineer) ---
    type_kind: str = "base"             # base, enum, domain (user-defined types need CREATE TYPE/DOMAIN first)
    type_schema: Optional[str] = None   # schema of an enum/domain type
    type_name: Optional[str] = None     # name of an enum/domain type (unqualified)
    domain_base_type: Optional[str] = None    # formatted base type of a domain
    domain_checks: list[str] = field(default_factory=list)    # CHECK (...) definitions of a domain
    identity: str = ""                  # "a" GENERATED ALWAYS / "d" BY DEFAULT AS IDENTITY, "" otherwise
    generated_expr: Optional[str] = None      # expression of a GENERATED ALWAYS AS (...) STORED column
    comment_source: str = "database"    # database, llm, rule_based: where effective_comment comes from
    # --- appended by privacy (schema.pii) ---
    pii_source: Optional[str] = None    # why pii_kind was set: name, comment, values, view:<schema>.<table>.<col>

    @property
    def effective_comment(self) -> str:
        return self.comment or self.generated_comment or ""


@dataclass
class ForeignKey:
    name: str
    columns: list[str]
    ref_schema: str
    ref_table: str
    ref_columns: list[str]


@dataclass
class Table:
    schema: str
    name: str
    kind: str = "table"                 # table, view, materialized_view, partitioned_table, foreign_table
    comment: Optional[str] = None       # the database's own comment (PII-shaped substrings masked)
    generated_comment: Optional[str] = None
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    unique_keys: list[list[str]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    row_estimate: Optional[int] = None
    row_count_exact: bool = False
    view_definition: Optional[str] = None
    comment_source: str = "database"    # database, llm, rule_based
    # --- appended by introspection (ddl engineer) ---
    partition_key: Optional[str] = None       # pg_get_partkeydef of a partitioned parent, e.g. "RANGE (day)"
    check_constraints: list[str] = field(default_factory=list)   # table CHECK (...) definitions
    generated_comment_count: int = 0    # how many comments (table + columns) were generated, not from the DB
    description: Optional[str] = None   # generated one-paragraph description (md body), never from the DB

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def file_stem(self) -> str:
        """File name stem: the table name for `public`, `schema__table` otherwise (unique across schemas).

        Identifiers may hold any character: `/`, `\\`, control characters become `_` and a leading dot gets a
        `_` prefix, so a table named `../x` can never write outside the task directory."""
        stem = self.name if self.schema == "public" else f"{self.schema}__{self.name}"
        stem = "".join("_" if ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in stem)
        return "_" + stem if stem.startswith(".") else stem

    @property
    def effective_comment(self) -> str:
        return self.comment or self.generated_comment or ""

    def column(self, name: str) -> Optional[Column]:
        return next((c for c in self.columns if c.name == name), None)


def _column_from(d: dict) -> Column:
    d = dict(d)
    d["top_values"] = [ValueCount(**v) for v in d.get("top_values", [])]
    return Column(**{k: v for k, v in d.items() if k in Column.__dataclass_fields__})


def table_from_dict(d: dict) -> Table:
    d = dict(d)
    d["columns"] = [_column_from(c) for c in d.get("columns", [])]
    d["foreign_keys"] = [ForeignKey(**f) for f in d.get("foreign_keys", [])]
    return Table(**{k: v for k, v in d.items() if k in Table.__dataclass_fields__})


def save_snapshot(path: Path, tables: list[Table], meta: Optional[dict[str, Any]] = None) -> None:
    data = {"meta": meta or {}, "tables": [asdict(t) for t in tables]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def load_snapshot(path: Path) -> tuple[list[Table], dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [table_from_dict(t) for t in data.get("tables", [])], data.get("meta", {})
