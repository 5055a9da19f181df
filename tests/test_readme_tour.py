"""The README tour: every ```bash block of README.md, pasted in order into one terminal, works.

How it runs: the README's first two bash blocks (start the service, run the tests) are the set-up commands and
are left out; the others run, in order, in ONE bash session (`set -eo pipefail`, so variables and functions
carry over from block to block) against a real `python citu_app.py` on a free port (never 8084) with its own
fresh data home. The blocks are not rewritten: the session only sets `BASE` to that server's URL, as the README
tells a user on another port to do, so a block that still names `localhost:8084` fails. The whole README is
pasted twice in the same session (a user pasting a block again must not hit "file exists" or a doubled edit).
The session's working directory is the data home (as for a user who started the service in the project
directory with the default data home), with `.venv` linked there so the README's `.venv/bin/python ...`
commands work.

The tour fails on a block that exits non-zero and on any `"success": false` answer a block prints. A separate
check runs the README's `wait_task` against a stopped server (it must fail, not return 0 or spin forever) and
with a `null` id.

Convention for README authors: a marker on its own line just before a block (blank lines in between allowed):
- `<!-- tour: skip -->`: the block does not run here (it needs an outside service, a real LLM, a destructive
  operation ...);
- `<!-- tour: expect-error -->`: the block shows an error answer on purpose: it still runs and must exit 0,
  and it must print at least one `"success": false`.
Everything else must run when pasted in order.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.server_process import PROJECT_ROOT, ServerProcess

README = PROJECT_ROOT / "README.md"
SETUP_BLOCKS = 2                        # the first command (start) and the second (scripts/test.sh)
MARKER = re.compile(r"^<!-- tour: (skip|expect-error) -->$")
README_BASE_URL = "http://localhost:8084"
TOUR_TIMEOUT_S = 900
FAILED_ANSWER = re.compile(r'"success"\s*:\s*false')
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def readme_blocks(text: str) -> list[tuple[int, str, str]]:
    """[(line number, code, marker)] of every ```bash block, in order; marker is "", "skip" or "expect-error"."""
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[:match.start()].rstrip().splitlines()
        marker = MARKER.match(before[-1].strip()) if before else None
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1), marker.group(1) if marker else ""))
    return blocks


def tour_blocks(text: str) -> list[tuple[int, str, bool]]:
    """[(line number, code, expects an error answer?)] of the blocks the tour runs."""
    return [(line, code, marker == "expect-error") for i, (line, code, marker) in enumerate(readme_blocks(text))
            if i >= SETUP_BLOCKS and marker != "skip"]


PASSES = 2                              # the whole README, pasted twice
BASE_DEFAULT = "${BASE:-" + README_BASE_URL + "}"   # the one place a block may name the default port


def tour_script(blocks: list[tuple[int, str, bool]], base_url: str, passes: int = PASSES) -> str:
    """One bash script: BASE set to the server, then every block `passes` times, each between start/end markers
    ("{pass}.{block}"), so the output can be split per block and pass."""
    parts = ["set -eo pipefail", f"export BASE={base_url}"]
    for p in range(passes):
        for n, (line, code, _) in enumerate(blocks):
            parts += [f"echo '@@tour-block {p}.{n} start'", code.rstrip(), f"echo '@@tour-block {p}.{n} end'"]
    return "\n".join(parts) + "\n"


def split_output(output: str) -> dict[str, tuple[str, bool]]:
    """"{pass}.{block}" -> (its output, whether it reached its end marker)."""
    found: dict[str, tuple[str, bool]] = {}
    for match in re.finditer(r"^@@tour-block (\d+\.\d+) start\n(.*?)(^@@tour-block \1 end$|\Z)", output,
                             re.S | re.M):
        found[match.group(1)] = (match.group(2), bool(match.group(3)))
    return found


def wait_task_definition(text: str) -> str:
    """The README's `wait_task` function, as pasted."""
    match = re.search(r"^wait_task\(\) \{\n.*?^\}\n", text, re.S | re.M)
    assert match, "the README lost its wait_task function"
    return match.group(0)


def run_wait_task(text: str, api: str, task_id: str, timeout: float = 30) -> int:
    """Exit status of `wait_task task_id` with $API pointing at `api` (a hang is a failure)."""
    script = f"API={api}\n{wait_task_definition(text)}wait_task {task_id}\n"
    try:
        return subprocess.run(["bash", "-c", script], capture_output=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        raise AssertionError(f"wait_task {task_id!r} did not return within {timeout} s")


def test_marker_and_setup_blocks_are_left_out():
    text = ("```bash\nstart\n```\n```bash\ntest\n```\nx\n```bash\none\n```\n"
            "<!-- tour: skip -->\n\n```bash\nnot me\n```\n```json\n{}\n```\n"
            "<!-- tour: expect-error -->\n```bash\ntwo\n```\n")
    assert [(code, error) for _, code, error in tour_blocks(text)] == [("one\n", False), ("two\n", True)]


def test_split_output_finds_the_block_that_stopped():
    out = "@@tour-block 0.0 start\nfine\n@@tour-block 0.0 end\n@@tour-block 0.1 start\nboom\n"
    assert split_output(out) == {"0.0": ("fine\n", True), "0.1": ("boom\n", False)}


def test_tour_script_pastes_every_block_twice_with_base_set():
    script = tour_script([(1, "echo $BASE\n", False), (5, "echo two\n", False)], "http://127.0.0.1:9")
    assert script.splitlines()[:2] == ["set -eo pipefail", "export BASE=http://127.0.0.1:9"]
    assert script.count("echo two") == 2 and "@@tour-block 1.1 end" in script


def test_blocks_are_port_agnostic():
    """Every block reaches the service through $BASE (or $API built from it); only BASE's default names 8084."""
    text = README.read_text(encoding="utf-8")
    named = [(line, code) for line, code, _ in tour_blocks(text)
             if re.search(r"(localhost|127\.0\.0\.1):8084", code.replace(BASE_DEFAULT, ""))]
    assert named == [], named
    assert BASE_DEFAULT in tour_blocks(text)[0][1]


def test_wait_task_fails_without_a_server_and_on_a_null_id():
    text = README.read_text(encoding="utf-8")
    with socket.socket() as s:           # a port nobody listens on: "the server is down"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api/v0/data_pipeline"
    assert run_wait_task(text, api, "task_20250101_000000") == 1
    assert run_wait_task(text, api, "null") == 2        # a create that failed: jq -r prints null
    assert run_wait_task(text, api, '""') == 2


def test_readme_shell_blocks_run_in_order():
    text = README.read_text(encoding="utf-8")
    blocks = tour_blocks(text)
    assert len(blocks) >= 10, "the README lost its examples"
    if re.search(r"\bjq\b", "\n".join(code for _, code, _ in blocks)) and not shutil.which("jq"):
        reason = "the README's examples use jq, which is not installed (scripts/test.sh installs it as root)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    home = Path(tempfile.mkdtemp(prefix="dp_tour_"))
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else PROJECT_ROOT / ".venv"
    (home / ".venv").symlink_to(venv, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "EMBEDDING_"))}
    env.update(DP_DATA_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), LANG="C.UTF-8")
    server = ServerProcess(home, as_shipped=True).start(timeout=120)
    assert server.port != 8084 and README_BASE_URL not in server.base_url
    try:
        script = tour_script(blocks, server.base_url)
        (home / "tour.sh").write_text(script, encoding="utf-8")
        proc = subprocess.run(["bash", str(home / "tour.sh")], cwd=home, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TOUR_TIMEOUT_S)
        output = proc.stdout.decode("utf-8", errors="replace")
        (PROJECT_ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
        (PROJECT_ROOT / "tests" / "artifacts" / "readme_tour.log").write_text(output, encoding="utf-8")
    finally:
        server.stop()
    # the function the blocks used, now against the stopped server: it fails instead of returning 0
    demo = re.search(r"^task (task_\d{8}_\d{6}(?:_\d+)?)$", output, re.M)
    assert demo, output[-3000:]
    assert run_wait_task(text, f"{server.base_url}/api/v0/data_pipeline", demo.group(1)) == 1
    per_block = split_output(output)
    for key, (line, code, expects_error) in ((f"{p}.{n}", b) for p in range(PASSES) for n, b in enumerate(blocks)):
        got, finished = per_block.get(key, ("", False))
        where = f"README block at line {line} (paste {int(key.split('.')[0]) + 1}):\n{code}\n--- its output ---\n{got[-3000:]}"
        assert finished, f"exit {proc.returncode} in the {where}\n--- server log ---\n{server.log_tail()}"
        if expects_error:
            assert FAILED_ANSWER.search(got), f'no "success": false answer in the expect-error {where}'
        else:
            assert not FAILED_ANSWER.search(got), f'a "success": false answer in the {where}'
    assert proc.returncode == 0, output[-3000:]
    shutil.rmtree(home, ignore_errors=True)
