"""The four steps, declared once: order, progress band, dependencies, human names.

    base.py              the contract between the executor and a step module
    ddl_generation.py    step 1 (uses data_pipeline.schema)
    qa_generation.py     step 2 (uses data_pipeline.qa)
    sql_validation.py    step 3 (uses data_pipeline.validation)
    training_load.py     step 4 (uses data_pipeline.vectors)
    early_checks.py      SQL checks qa_generation starts for sql_validation in the same process (issue 26)
"""
from __future__ import annotations

STEPS: tuple[str, ...] = ("ddl_generation", "qa_generation", "sql_validation", "training_load")

STEP_LABELS = {
    "ddl_generation": "DDL/MD文档生成",
    "qa_generation": "Question-SQL对生成",
    "sql_validation": "SQL验证和修复",
    "training_load": "训练数据加载",
}

# progress band of each step inside a complete run (contract: ddl 0->40, qa 40->70, validation 70->90, load 90->100)
PROGRESS_BANDS = {
    "ddl_generation": (0, 40),
    "qa_generation": (40, 70),
    "sql_validation": (70, 90),
    "training_load": (90, 100),
}

# a step may run when each listed step is in one of the accepted states
DEPENDENCIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ddl_generation": (),
    "qa_generation": (("ddl_generation", ("completed",)),),
    "sql_validation": (("qa_generation", ("completed",)),),
    "training_load": (("sql_validation", ("completed", "skipped")),),
}

# The files each step owns (globs relative to the task directory), declared once and readable without importing
# step code: the executor cleans them before a re-run, the file API shows the owning step. A name that a step
# lists literally belongs to that step even when another step's glob also matches it (qa's metadata_detail.md vs
# ddl's *_detail.md).
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "ddl_generation": ("*.ddl", "*_detail.md", "metadata.txt", "schema_snapshot.json"),
    "qa_generation": ("qs_*_pair.json", "qs_*_pair.meta.json", "qs_*_pair.json.backup", "metadata_detail.md"),
    "sql_validation": ("sql_validation_*_summary.log", "sql_validation_*_report.json", "file_modifications_*.log",
                       "quality_report.json"),
    "training_load": ("training_load_*.log",),
}


def output_owner(name: str):
    """The step owning a task-directory file name, or None: literal names first, then globs in step order."""
    from fnmatch import fnmatchcase
    for step in STEPS:
        if name in STEP_OUTPUTS[step]:
            return step
    for step in STEPS:
        if any(fnmatchcase(name, pattern) for pattern in STEP_OUTPUTS[step]):
            return step
    return None


TASK_STATUSES = ("pending", "in_progress", "partial_completed", "completed", "failed", "cancelled")
STEP_STATUSES = ("pending", "running", "completed", "failed", "skipped", "cancelled")
EXECUTION_STATUSES = ("running", "completed", "failed", "cancelled")


def step_module(step: str):
    """The module implementing `step` (imported on demand: the API never imports step code)."""
    import importlib
    if step not in STEPS:
        raise KeyError(step)
    return importlib.import_module(f"data_pipeline.steps.{step}")


def initial_step_status() -> dict[str, str]:
    return {s: "pending" for s in STEPS}


def later_steps(step: str) -> tuple[str, ...]:
    return STEPS[STEPS.index(step) + 1:]
