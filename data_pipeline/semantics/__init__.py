"""The semantic model between schema/ (step 1) and qa/ (step 2): what each table is, what each column means,
how tables join, written as `semantic_model.json` and read by the question generators. Imports schema/ and the
lexicon, never qa/ (tests/test_layout.py).

    model.py       dataclasses and the JSON shape of `semantic_model.json`, user overrides, read/write
    roles.py       column roles from generic rules (keys, flags, measures, times, labels, dimensions, text)
    paths.py       relationships (FK graph with role names) and join paths up to four hops, with phrases
    build.py       `build_semantic_model(tables, language, overrides)`: table kinds, roles, facts, paths
    complexity.py  a pair's complexity level from its SQL (simple, moderate, complex, highly complex)
    render.py      the model for people: lines for each table's `_detail.md`, a section of `metadata_detail.md`
    upload.py      checks on a user's edited `semantic_model.json` (shape, nothing dropped) and marking its edits
"""
from data_pipeline.semantics.build import build_semantic_model
from data_pipeline.semantics.complexity import complexity
from data_pipeline.semantics.model import MODEL_FILE, SemanticModel, read_model, write_model

__all__ = ["build_semantic_model", "complexity", "MODEL_FILE", "SemanticModel", "read_model", "write_model"]
