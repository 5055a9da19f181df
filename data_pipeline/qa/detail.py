"""`metadata_detail.md`: the business themes of a qa_generation run, for people (seed: 业务主题分析详情)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from data_pipeline.qa.pair_quality import DIFFICULTIES, count_by_difficulty
from data_pipeline.qa.pairs import Pair
from data_pipeline.qa.themes import Theme

_SOURCE_WORDS = {"rule_based": "规则生成（未配置大模型，基于外键关系与字段注释）", "llm": "大模型生成"}


def render_metadata_detail(themes: Sequence[Theme], pairs: Sequence[Pair], summary: dict, generator: dict,
                           business_context: str = "") -> str:
    lines = ["# 业务主题分析详情", ""]
    if business_context.strip():
        lines += [f"业务背景：{' '.join(business_context.split())}", ""]
    source = _SOURCE_WORDS.get(summary.get("source", ""), summary.get("source", ""))
    model = f"（模型 {generator['model']}）" if generator.get("model") else ""
    lines += [f"- 生成方式：{source}{model}",
              f"- 主题数：{summary['themes']}，问答对：{summary['pairs']}，问题语言：{summary.get('question_language', 'zh')}",
              f"- 覆盖：表 {summary['tables_covered']}/{summary['tables_total']}，"
              f"外键关系 {summary['fk_edges_covered']}/{summary['fk_edges_total']}",
              f"- 去重：完全重复 {summary['duplicates_removed']['exact']}，"
              f"模板重复 {summary['duplicates_removed']['template']}",
              "- 难度分布：" + "，".join(f"{d} {n}" for d, n in summary["by_difficulty"].items())]
    if summary.get("coverage_top_up"):
        lines.append(f"- 覆盖补充（规则生成）：{summary['coverage_top_up']} 条")
    for failure in summary.get("failed_themes") or []:
        lines.append(f"- 生成失败的主题：{failure['theme']}（{failure['error']}）")
    lines.append("")
    for i, theme in enumerate(themes, 1):
        mine = [p for p in pairs if p.meta.get("theme") == theme.topic_name]
        counts = count_by_difficulty(p.meta.get("difficulty") for p in mine)
        lines += [f"## {i}. {theme.topic_name}", "",
                  theme.description or "", "",
                  f"- 相关表：{', '.join(theme.related_tables)}",
                  f"- 业务实体：{'、'.join(theme.biz_entities) or '—'}",
                  f"- 业务指标：{'、'.join(theme.biz_metrics) or '—'}",
                  f"- 来源：{_SOURCE_WORDS.get(theme.source, theme.source)}",
                  f"- 问答对：{len(mine)}（" + "，".join(f"{d} {counts[d]}" for d in DIFFICULTIES) + "）", ""]
        for p in mine[:3]:
            lines.append(f"  - 示例：{p.question}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_metadata_detail(path: Path, themes: Sequence[Theme], pairs: Sequence[Pair], summary: dict,
                          generator: dict, business_context: str = "") -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_metadata_detail(themes, pairs, summary, generator, business_context), encoding="utf-8")
    os.replace(tmp, path)
