"""Which step owns which file: declared once (data_pipeline.steps.STEP_OUTPUTS) and honoured when cleaning."""
from __future__ import annotations

from data_pipeline.executor.outputs import clean_step_outputs
from data_pipeline.steps import STEP_OUTPUTS, STEPS, output_owner, step_module


# What a complete run of the demo leaves in a task directory, and which step owns each file - written out by
# hand, not derived from STEP_OUTPUTS.
OWNED_FILES = {
    "ddl_generation": ["bss_company.ddl", "bss_company_detail.md", "bss_service_area.ddl",
                       "bss_service_area_detail.md", "metadata.txt", "schema_snapshot.json"],
    "qa_generation": ["metadata_detail.md", "qs_highway_db_20250101_120000_pair.json",
                      "qs_highway_db_20250101_120000_pair.json.backup",
                      "qs_highway_db_20250101_120000_pair.meta.json"],
    "sql_validation": ["file_modifications_20250101_120500.log", "quality_report.json",
                       "sql_validation_20250101_120500_report.json", "sql_validation_20250101_120500_summary.log"],
    "training_load": ["training_load_20250101_121000.log"],
}
TASK_FILES = ["data_pipeline.log", "table_list.txt", "task_config.json", "task_result.json"]


def test_each_step_module_cleans_exactly_its_own_files(tmp_path):
    """The executor cleans a step's files with the step module's OUTPUT_PATTERNS: each step removes exactly
    its literal list above, never another step's file or the task's own files."""
    for step in STEPS:
        for name in [n for names in OWNED_FILES.values() for n in names] + TASK_FILES:
            (tmp_path / name).write_text("x")
        removed = clean_step_outputs(None, "task_20250101_000000", tmp_path, step, step_module(step).OUTPUT_PATTERNS)
        assert sorted(removed) == OWNED_FILES[step], step
        for other in STEPS:
            for name in OWNED_FILES[other]:
                assert (tmp_path / name).exists() == (other != step), (step, name)
        assert all((tmp_path / name).exists() for name in TASK_FILES)
        for p in tmp_path.iterdir():
            p.unlink()


def test_every_file_has_its_literal_owner():
    for step, names in OWNED_FILES.items():
        for name in names:
            assert output_owner(name) == step, name
    for name in TASK_FILES:
        assert output_owner(name) is None, name


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
