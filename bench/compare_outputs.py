"""Are two complete runs' outputs the same, modulo timestamps and order? (issue 26: overhead cut, outputs kept)

    .venv/bin/python bench/bench_complete.py --dump /tmp/out_a      # with one code version
    .venv/bin/python bench/bench_complete.py --dump /tmp/out_b      # with the other
    .venv/bin/python bench/compare_outputs.py /tmp/out_a /tmp/out_b

Compares every output file of the task directory by name (timestamps in names and contents replaced by a
placeholder; the pair files as multisets of pairs, other files byte for byte, else as multisets of lines: theme
answers arrive in completion order) and the vector rows (collection, document, metadata without the random id,
embedding). Prints one line per file and exits 1 when anything differs. Run it on two runs of the same code first
to see what differs by nature (samples of a table without a stable order, timings in logs and reports).
With `--rule-based` dumps two runs of the same code differ in a few pairs too: the rule-based generator takes
filter values (a month, a category) from the table samples, so compare the LLM path for an exact verdict.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

STAMP = re.compile(r"\d{8}_\d{6}|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?|task_\d{8}_\d{6}\w*")
# per-run measurements, not outputs: durations, timings and usage counters
TIMING_KEYS = re.compile(r'"(duration\w*|\w*_seconds|\w*_time|\w*_s|elapsed\w*|latency\w*|generated_at|created_at|'
                         r'finished_at|started_at|completed_at|execution_time|avg\w*|total_tokens|prompt_tokens|'
                         r'completion_tokens)": [^,\n}]+')
SKIP = {"data_pipeline.log", "task_result.json", "task_config.json"}
# sampled rows of big tables differ from run to run (the database's sample), like durations and the stub's port
SAMPLES = re.compile(r" ?\[示例: [^\]]*\]")   # a mostly-NULL column's sample may even be empty (no brackets)
SECONDS = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|ms|条/秒)(?=[\s,;)）]|$)", re.M)
PORT = re.compile(r"127\.0\.0\.1:\d+|dp_bench_complete_\w+")   # the stub's port, the temporary data home
# sampled values and the statistics of a freshly ANALYZEd demo database (ANALYZE samples too), speed figures
SAMPLE_KEYS = ("samples", "sample_values", "sample_rows", "top_values", "null_fraction", "distinct_count",
               "pairs_per_second", "estimated_cost", "index")
ENUM_VALUES = re.compile(r"(包含取值：)([^\n]*)")


def normal(text: str) -> str:
    text = TIMING_KEYS.sub(lambda m: f'"{m.group(1)}": "<t>"', STAMP.sub("<ts>", text))
    text = ENUM_VALUES.sub(lambda m: m.group(1) + ", ".join(sorted(m.group(2).strip().split(", "))), text)
    return SECONDS.sub("<n>s", PORT.sub("<host>", SAMPLES.sub("", text)))


def without_samples(value):
    """A JSON value with sampled values dropped (the schema snapshot keeps each column's sample) and every list
    in a canonical order (pairs and their validation details come in completion order)."""
    if isinstance(value, dict):
        return {k: without_samples(v) for k, v in value.items() if k not in SAMPLE_KEYS}
    if isinstance(value, list):
        return sorted((without_samples(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def files(root: Path) -> dict[str, Path]:
    return {STAMP.sub("<ts>", p.relative_to(root).as_posix()): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in SKIP}


def pairs_of(path: Path) -> list[str]:
    return sorted(json.dumps(p, ensure_ascii=False, sort_keys=True) for p in json.loads(path.read_text("utf-8")))


def compare(a: Path, b: Path) -> int:
    fa, fb = files(a / "files"), files(b / "files")
    differ = 0
    for name in sorted(set(fa) | set(fb)):
        if name not in fa or name not in fb:
            print(f"ONLY IN {'A' if name in fa else 'B'}  {name}")
            differ += 1
            continue
        ta, tb = fa[name].read_text("utf-8", "replace"), fb[name].read_text("utf-8", "replace")
        if name.endswith("_pair.json"):
            verdict = "same pairs" if pairs_of(fa[name]) == pairs_of(fb[name]) else "DIFFERENT PAIRS"
        elif name.endswith(".json") and normal(ta) != normal(tb):
            ja, jb = (without_samples(json.loads(normal(t))) for t in (ta, tb))
            verdict = "same but samples/order" if ja == jb else "DIFFERENT"
        elif normal(ta) == normal(tb):
            verdict = "same"
        elif sorted(normal(ta).splitlines()) == sorted(normal(tb).splitlines()):
            verdict = "same lines, other order"
        else:
            verdict = "DIFFERENT"
        differ += verdict.startswith(("DIFF", "ONLY"))
        print(f"{verdict:24s} {name}")
    va = json.loads((a / "vectors.json").read_text("utf-8"))
    vb = json.loads((b / "vectors.json").read_text("utf-8"))
    rows_a, rows_b = ([(r["collection"], normal(r["document"]), normal(json.dumps(r["cmetadata"], sort_keys=True)))
                       for r in rows] for rows in (va, vb))
    vectors_a, vectors_b = ({r["document"]: r["embedding"] for r in rows} for rows in (va, vb))
    common = set(vectors_a) & set(vectors_b)    # the same text must have the same embedding
    same = sorted(rows_a) == sorted(rows_b) and all(vectors_a[d] == vectors_b[d] for d in common)
    differ += not same
    print(f"{'same' if same else 'DIFFERENT':24s} vector rows ({len(va)} vs {len(vb)}; {len(common)} texts "
          f"identical to the byte, their embeddings equal: {all(vectors_a[d] == vectors_b[d] for d in common)})")
    print("identical outputs" if not differ else f"{differ} difference(s)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))
