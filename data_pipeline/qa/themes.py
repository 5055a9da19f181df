"""Business themes: groups of related tables with the entities and metrics a user asks about.

Two sources, labelled in `Theme.source`:
- `rule_based_themes(tables)`: clusters of the foreign-key graph (connected components; a component larger
  than `MAX_THEME_TABLES` is split into hub neighbourhoods), plus one theme per big table (a fact table is
  asked about on its own too). Names and entities come from table and column comments.
- `llm_themes(llm, tables, docs, business_context, count)`: one LLM call over the tables' Markdown docs.

Names come from `data_pipeline.lexicon.vocabulary`; column roles from `data_pipeline.qa.columns`.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

from pydantic import BaseModel, Field

from data_pipeline.schema.model import Table
from data_pipeline.qa.columns import categories, label_column, measures
from data_pipeline.lexicon.glossary import LANGUAGE_NAMES
from data_pipeline.qa.model_rules import model_prompt
from data_pipeline.qa.prompting import prompt_messages, table_docs
from data_pipeline.lexicon.vocabulary import column_noun, display_name, is_en, table_noun, table_plural, table_title
from data_pipeline.taskfiles.table_list import TableRef

MAX_THEME_TABLES = 6
BIG_TABLE_ROWS = 100_000
THEME_DOC_CHARS = 2500

# ------------------------------------------------------------------------------------------- the model


@dataclass
class Theme:
    topic_name: str
    description: str
    related_tables: list[str]                  # display names (see `display_name`)
    biz_entities: list[str] = field(default_factory=list)
    biz_metrics: list[str] = field(default_factory=list)
    source: str = "rule_based"                 # rule_based | llm

    def as_metadata(self) -> dict[str, Any]:
        """The shape `write_metadata_txt(themes=...)` takes."""
        d = asdict(self)
        d.pop("source")
        return d


class ThemeAnswer(BaseModel):
    topic_name: str = Field(min_length=1, max_length=100)
    description: str = ""
    related_tables: list[str] = Field(min_length=1)
    biz_entities: list[str] = Field(default_factory=list)
    biz_metrics: list[str] = Field(default_factory=list)


class ThemesAnswer(BaseModel):
    """What the theme prompt must return."""
    themes: list[ThemeAnswer] = Field(min_length=1)


# ------------------------------------------------------------------------------------------- rule based


def _entities_and_metrics(members: Sequence[Table]) -> tuple[list[str], list[str]]:
    """Entities: table nouns, label and category columns; metrics: measure columns (the generator's roles)."""
    entities: list[str] = []
    metrics: list[str] = []
    for t in members:
        entities.append(table_noun(t))
        label = label_column(t)
        entities.extend(column_noun(c, t) for c in ([label] if label else []) + categories(t))
        metrics.extend(column_noun(c, t) for c in measures(t))
    dedup = lambda xs: list(dict.fromkeys(x for x in xs if x))
    return dedup(entities)[:12], dedup(metrics)[:12]


def _neighbours(tables: Sequence[Table]) -> dict[str, set[str]]:
    known = {t.qualified for t in tables}
    graph: dict[str, set[str]] = {t.qualified: set() for t in tables}
    for t in tables:
        for fk in t.foreign_keys:
            parent = f"{fk.ref_schema}.{fk.ref_table}"
            if parent in known and parent != t.qualified:
                graph[t.qualified].add(parent)
                graph[parent].add(t.qualified)
    return graph


def _components(order: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    seen: set[str] = set()
    parts = []
    for start in order:
        if start in seen:
            continue
        stack, part = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            part.append(node)
            for n in sorted(graph[node]):
                if n not in seen:
                    seen.add(n)
                    stack.append(n)
        parts.append(sorted(part, key=order.index))
    return parts


def _split_component(part: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Hub neighbourhoods (hub + up to MAX_THEME_TABLES-1 neighbours), most connected hub first, until every
    table of the component is in one of them."""
    remaining = set(part)
    groups = []
    for hub in sorted(part, key=lambda q: (-len(graph[q]), part.index(q))):
        if hub not in remaining and not (graph[hub] & remaining):
            continue
        members = [hub] + sorted(graph[hub], key=lambda q: (q not in remaining, part.index(q)))
        members = members[:MAX_THEME_TABLES]
        if not set(members) & remaining:
            continue
        groups.append([hub] + sorted(members[1:], key=part.index))   # hub first: it names the theme
        remaining -= set(members)
        if not remaining:
            break
    return groups


def _is_big(table: Table) -> bool:
    return (table.row_estimate or 0) >= BIG_TABLE_ROWS


def _theme_for(members: list[Table], single: bool, business_context: str = "") -> Theme:
    """A theme over `members`, named after its first table (the hub), in the run's language; the business
    context (its first sentence) says what the data is about."""
    hub = members[0]
    entities, metrics = _entities_and_metrics(members)
    others = [t for t in members if t is not hub]
    if is_en():
        title = table_title(hub)
        if single:
            name, description = f"{title} analysis", f"Statistics and lookups of {table_plural(hub)} ({display_name(hub)})."
        else:
            name = f"{title} and related data" if len(members) > 2 else f"{title} and {table_plural(others[0])}"
            description = (f"Centred on {table_plural(hub)}, joined along foreign keys to "
                           f"{', '.join(table_plural(t) for t in others)}.")
        context = f" Business context: {_first_sentence(business_context)}." if business_context.strip() else ""
        return Theme(name, description + context + " (grouped by foreign keys, rule-based)",
                     [display_name(t) for t in members], entities, metrics or ["number of records"], "rule_based")
    if single:
        name = f"{table_title(hub)}分析"
        description = f"围绕{table_title(hub)}的统计与查询（{display_name(hub)}）。"
    else:
        other_nouns = "、".join(table_noun(t) for t in others)
        name = f"{table_noun(hub)}及关联数据分析" if len(members) > 2 else f"{table_noun(hub)}与{table_noun(others[0])}分析"
        description = f"以{table_title(hub)}为中心，沿外键关联{other_nouns}的查询与统计。"
    context = f"业务背景：{_first_sentence(business_context)}。" if business_context.strip() else ""
    return Theme(name, description + context + "（按外键关系自动归类，规则生成）",
                 [display_name(t) for t in members], entities, metrics or ["记录数"], "rule_based")


def _first_sentence(text: str, limit: int = 120) -> str:
    """The business context's first sentence (a theme description is one paragraph, not the whole brief)."""
    first = re.split(r"(?<=[。！？!?])|(?<=\.)\s|\n", text.strip(), maxsplit=1)[0].strip().rstrip("。.")
    return first if len(first) <= limit else first[:limit].rstrip() + "…"


def rule_based_themes(tables: Sequence[Table], business_context: str = "") -> list[Theme]:
    """Themes from the foreign-key graph; every table is in at least one theme and every FK edge between the
    given tables lies inside at least one theme (an edge split apart by hub neighbourhoods gets its parent
    added to the child's theme)."""
    order = [t.qualified for t in tables]
    by_q = {t.qualified: t for t in tables}
    graph = _neighbours(tables)
    groups: list[list[str]] = []
    for part in _components(order, graph):
        if len(part) <= MAX_THEME_TABLES:
            hub = max(part, key=lambda q: (len(graph[q]), -part.index(q)))
            groups.append([hub] + [q for q in part if q != hub])
        else:
            groups.extend(_split_component(part, graph))
    for child in tables:
        for fk in child.foreign_keys:
            parent = f"{fk.ref_schema}.{fk.ref_table}"
            if parent in by_q and not any(child.qualified in g and parent in g for g in groups):
                next(g for g in groups if child.qualified in g).append(parent)
    themes = [_theme_for([by_q[q] for q in g], single=len(g) == 1, business_context=business_context)
              for g in groups]
    for t in tables:
        if _is_big(t) and not any(g == [t.qualified] for g in groups):
            themes.append(_theme_for([t], single=True, business_context=business_context))
    names: dict[str, int] = {}
    for theme in themes:   # names must be unique: they key the per-theme counts
        names[theme.topic_name] = names.get(theme.topic_name, 0) + 1
        if names[theme.topic_name] > 1:
            theme.topic_name = f"{theme.topic_name}{names[theme.topic_name]}"
    return themes


# ------------------------------------------------------------------------------------------- LLM


def table_lookup(tables: Sequence[Table]) -> dict[str, Table]:
    """Every way a theme may name a table (display name, qualified, bare name when unique) -> table."""
    lookup: dict[str, Table] = {}
    for t in tables:
        lookup[display_name(t)] = t
        lookup[TableRef(t.schema, t.name).qualified] = t
        lookup[t.qualified] = t
    for t in tables:
        lookup.setdefault(t.name, t)
    return {k.lower(): v for k, v in lookup.items()}


def themes_from_answer(answer: ThemesAnswer, tables: Sequence[Table]) -> tuple[list[Theme], list[str]]:
    """Validated LLM themes -> Theme objects; unknown tables are dropped (and reported), a theme left without
    tables is dropped."""
    lookup = table_lookup(tables)
    themes, problems = [], []
    for a in answer.themes:
        known, unknown = [], []
        for name in a.related_tables:
            t = lookup.get(name.strip().lower()) or lookup.get(name.strip().replace('"', '').lower())
            (known.append(display_name(t)) if t else unknown.append(name))
        if not known:
            problems.append(f"theme '{a.topic_name}' dropped: none of its tables exist ({unknown})")
            continue
        if unknown:
            problems.append(f"theme '{a.topic_name}': unknown tables {unknown} ignored")
        themes.append(Theme(a.topic_name.strip(), a.description.strip(), list(dict.fromkeys(known)),
                            [e for e in a.biz_entities if e.strip()], [m for m in a.biz_metrics if m.strip()],
                            "llm"))
    return themes, problems


def theme_messages(tables: Sequence[Table], docs: dict[str, str], business_context: str, count: int,
                   language: str = "zh", model: Any = None) -> list[dict]:
    """The theme call's messages: the tables' Markdown docs, the semantic model (`model`: table kinds, measures,
    event times, join paths — as the pair prompt has it) + business context, asking for `count` themes."""
    # the theme call sees every table: a shorter cap per doc keeps 50+ tables within a model's context
    return prompt_messages("qa_themes", business_context=business_context or "（未提供）",
                           theme_count=count, table_names=", ".join(display_name(t) for t in tables),
                           table_docs=table_docs(tables, docs, limit=THEME_DOC_CHARS),
                           semantic_model=model_prompt(model, tables, language, mix=False),
                           question_language_name=LANGUAGE_NAMES.get(language, "中文"))


def llm_themes(llm: Any, tables: Sequence[Table], docs: dict[str, str], business_context: str,
               count: int, language: str = "zh", model: Any = None,
               ask: Optional[Callable[[list[dict]], Any]] = None) -> tuple[list[Theme], list[str]]:
    """One LLM call (`theme_messages`) -> up to `count` themes (validated). `ask(messages)` gives the answer
    instead of a call of its own (qa_generation: the call ddl_generation sent ahead, steps/themes_ahead.py).

    Raises whatever the LLM client raises (core.errors.LLMError): the step reports it, nothing is invented.
    """
    messages = theme_messages(tables, docs, business_context, count, language, model)
    answer = ask(messages) if ask is not None else llm.chat_json(messages, ThemesAnswer, purpose="qa_themes")
    themes, problems = themes_from_answer(answer, tables)
    return themes[:count] if count else themes, problems


def theme_tables(theme: Theme, tables: Sequence[Table]) -> list[Table]:
    lookup = table_lookup(tables)
    return [lookup[n.lower()] for n in theme.related_tables if n.lower() in lookup]


def find_theme(themes: Sequence[Theme], name: str) -> Optional[Theme]:
    return next((t for t in themes if t.topic_name == name), None)
