#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run): venv + dev requirements + Debian's Chromium for the
# browser tests, then pytest. Extra arguments go to pytest, e.g. `scripts/test.sh tests/e2e -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv
fi
.venv/bin/python -m pip install -q -r requirements-dev.txt

# Browser tests drive /usr/bin/chromium (playwright cannot download browsers here). Install it when we can;
# otherwise the e2e tests fail under CI=true with a clear message and skip locally.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null \
      || echo "scripts/test.sh: could not install chromium; browser tests will not run" >&2
  else
    echo "scripts/test.sh: /usr/bin/chromium missing and not root with apt-get; browser tests will not run" >&2
  fi
fi
# the README tour (tests/test_readme_tour.py) runs the README's examples, which use jq
if ! command -v jq >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; } \
      || echo "scripts/test.sh: could not install jq; the README tour will not run" >&2
  else
    echo "scripts/test.sh: jq missing and not root with apt-get; the README tour will not run" >&2
  fi
fi
# a CJK font makes the console's screenshots readable (optional: the tests do not depend on it)
if [ -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v fc-list >/dev/null 2>&1 \
   && ! fc-list 2>/dev/null | grep -qiE "wqy|noto.*cjk"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || true
fi

exec .venv/bin/python -m pytest -q "$@"
