"""Which step owns which file: declared once (data_pipeline.steps.STEP_OUTPUTS) and honoured when cleaning."""
from __future__ import annotations

from data_pipeline.executor.outputs import clean_step_outputs
from data_pipeline.steps import STEP_OUTPUTS, STEPS, output_owner, step_module


def test_step_modules_use_the_single_declaration():
    for step in STEPS:
        assert step_module(step).OUTPUT_PATTERNS == STEP_OUTPUTS[step]


def test_literal_names_beat_other_steps_globs():
    assert output_owner("metadata_detail.md") == "qa_generation"
    assert output_owner("bss_company_detail.md") == "ddl_generation"
    assert output_owner("metadata.txt") == "ddl_generation"
    assert output_owner("task_config.json") is None


def test_rerunning_ddl_keeps_the_qa_theme_analysis(tmp_path):
    for name in ("bss_company.ddl", "bss_company_detail.md", "metadata_detail.md", "metadata.txt",
                 "qs_db_20250101_000000_pair.json", "task_config.json", "data_pipeline.log"):
        (tmp_path / name).write_text("x")
    removed = clean_step_outputs(None, "task_20250101_000000", tmp_path, "ddl_generation",
                                 STEP_OUTPUTS["ddl_generation"])
    assert sorted(removed) == ["bss_company.ddl", "bss_company_detail.md", "metadata.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data_pipeline.log", "metadata_detail.md",
                                                          "qs_db_20250101_000000_pair.json", "task_config.json"]
