"""The four steps (and the optional fifth, `evaluation`), declared once: order, progress band, dependencies, names.

    base.py              the contract between the executor and a step module
    ddl_generation.py    step 1 (uses data_pipeline.schema)
    qa_generation.py     step 2 (uses data_pipeline.qa)
    sql_validation.py    step 3 (uses data_pipeline.validation)
    training_load.py     step 4 (uses data_pipeline.vectors)
    evaluation.py        optional step 5 (uses data_pipeline.evaluation): only in complete mode with the task's
                         `enable_evaluation`, or asked for in step mode; absent from step_status otherwise
    early_checks.py      SQL checks qa_generation starts for sql_validation in the same process (issue 26)
    themes_ahead.py      qa_generation's theme call, sent by ddl_generation once its files are written (issue 26)
    embeddings_ahead.py  training_load's embeddings, requested by sql_validation while it waits (issue 26)
"""
from __future__ import annotations

STEPS: tuple[str, ...] = ("ddl_generation", "qa_generation", "sql_validation", "training_load")
# optional steps run after STEPS; a task shows one only when it is switched on or has run (the four-step flow,
# its step_status and total_steps stay exactly as they were for every other task)
OPTIONAL_STEPS: tuple[str, ...] = ("evaluation",)
ALL_STEPS: tuple[str, ...] = STEPS + OPTIONAL_STEPS
OPTIONAL_SWITCHES = {"evaluation": "enable_evaluation"}   # parameter (default false) -> optional step

STEP_LABELS = {
    "ddl_generation": "DDL/MD文档生成",
    "qa_generation": "Question-SQL对生成",
    "sql_validation": "SQL验证和修复",
    "training_load": "训练数据加载",
    "evaluation": "检索与SQL准确率评估",
}

# progress band of each step inside a complete run (contract: ddl 0->40, qa 40->70, validation 70->90, load 90->100)
PROGRESS_BANDS = {
    "ddl_generation": (0, 40),
    "qa_generation": (40, 70),
    "sql_validation": (70, 90),
    "training_load": (90, 100),
}
# the bands of a run that also evaluates (the four steps keep their order and proportions)
EVALUATION_PROGRESS_BANDS = {
    "ddl_generation": (0, 36),
    "qa_generation": (36, 63),
    "sql_validation": (63, 81),
    "training_load": (81, 90),
    "evaluation": (90, 100),
}

# a step may run when each listed step is in one of the accepted states
DEPENDENCIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ddl_generation": (),
    "qa_generation": (("ddl_generation", ("completed",)),),
    "sql_validation": (("qa_generation", ("completed",)),),
    "training_load": (("sql_validation", ("completed", "skipped")),),
    "evaluation": (("training_load", ("completed",)),),
}

# The files each step owns (globs relative to the task directory), declared once and readable without importing
# step code: the executor cleans them before a re-run, the file API shows the owning step. A name that a step
# lists literally belongs to that step even when another step's glob also matches it (qa's metadata_detail.md vs
# ddl's *_detail.md).
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "ddl_generation": ("*.ddl", "*_detail.md", "metadata.txt", "schema_snapshot.json", "semantic_model.json"),
    "qa_generation": ("qs_*_pair.json", "qs_*_pair.meta.json", "qs_*_pair.json.backup", "metadata_detail.md"),
    "sql_validation": ("sql_validation_*_summary.log", "sql_validation_*_report.json", "file_modifications_*.log",
                       "quality_report.json"),
    "training_load": ("training_load_*.log", "eval_holdout.json"),
    "evaluation": ("evaluation_report.json", "evaluation_report.md"),
}

# Files a step rewrites on every run but that a re-run (clean_previous) or a cancel must not delete: they carry the
# user's edits, which the step reads back (ddl_generation keeps `semantic_model.json`'s overrides).
KEPT_ON_CLEAN: tuple[str, ...] = ("semantic_model.json",)


def output_owner(name: str):
    """The step owning a task-directory file name, or None: literal names first, then globs in step order."""
    from fnmatch import fnmatchcase
    for step in ALL_STEPS:
        if name in STEP_OUTPUTS[step]:
            return step
    for step in ALL_STEPS:
        if any(fnmatchcase(name, pattern) for pattern in STEP_OUTPUTS[step]):
            return step
    return None


TASK_STATUSES = ("pending", "in_progress", "partial_completed", "completed", "failed", "cancelled")
STEP_STATUSES = ("pending", "running", "completed", "failed", "skipped", "cancelled")
EXECUTION_STATUSES = ("running", "completed", "failed", "cancelled")


def step_module(step: str):
    """The module implementing `step` (imported on demand: the API never imports step code)."""
    import importlib
    if step not in ALL_STEPS:
        raise KeyError(step)
    return importlib.import_module(f"data_pipeline.steps.{step}")


def initial_step_status() -> dict[str, str]:
    return {s: "pending" for s in STEPS}


def later_steps(step: str) -> tuple[str, ...]:
    return ALL_STEPS[ALL_STEPS.index(step) + 1:]


def evaluation_on(params: dict) -> bool:
    """The task asks for the evaluation step in complete runs (`enable_evaluation: true`; default false)."""
    return (params or {}).get("enable_evaluation") is True


def task_steps(step_status: dict, params: dict) -> tuple[str, ...]:
    """The steps a task shows: the four, plus an optional one when switched on or present in its step_status."""
    extra = tuple(s for s in OPTIONAL_STEPS
                  if s in (step_status or {}) or (params or {}).get(OPTIONAL_SWITCHES[s]) is True)
    return STEPS + extra


def progress_bands(with_evaluation: bool) -> dict:
    return EVALUATION_PROGRESS_BANDS if with_evaluation else PROGRESS_BANDS
