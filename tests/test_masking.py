"""Masking from parsing (core/secrets.py), checked as a property over generated connection-string spellings.

Every generated spelling is first read by libpq itself (`psycopg2.extensions.parse_dsn`): the secret must really
be what libpq would send as `password` or `sslpassword` — so the generator cannot drift into spellings libpq
ignores. Then neither the secret nor the way it is written may survive `mask_url`, `scrub_text` (inside an error
sentence) or `mask_secrets` (as a task parameter).
"""
from __future__ import annotations

import random
import string

import psycopg2.extensions
import pytest

from core.secrets import MASK, mask_secrets, mask_url, scrub_text

SEED = 18
CASES = 600
_SECRET_CHARS = string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_{|}~ "


def _secret(rng: random.Random) -> str:
    body = "".join(rng.choice(_SECRET_CHARS) for _ in range(rng.randint(6, 14)))
    return "Zq" + body.strip() + "9x"   # never empty, starts and ends with something greppable


def _encode_some(rng: random.Random, text: str, must: str = "") -> str:
    """Percent-encode `text` with random choices; characters in `must` (and reserved ones) always encoded."""
    out = []
    for ch in text:
        if ch in must or not (ch.isalnum() or ch in "-._~") or rng.random() < 0.3:
            out.append("".join(f"%{b:02X}" if rng.random() < 0.5 else f"%{b:02x}" for b in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


def _hosts(rng: random.Random) -> str:
    choices = ["db.example.org", "127.0.0.1:5433", "[::1]:5432", "h1:5432,h2:5433", "", "localhost"]
    return rng.choice(choices)


def generate(rng: random.Random) -> tuple[str, str, list[str]]:
    """(connection string, the secret, the spellings of it that appear in the text)."""
    secret = _secret(rng)
    key = rng.choice(["password", "sslpassword"])
    form = rng.choice(["userinfo", "query", "query", "keyword"])
    if form == "keyword":
        quoted = "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"
        value = quoted if (" " in secret or "'" in secret or "\\" in secret or rng.random() < 0.5) else secret
        parts = [f"host={rng.choice(['db.example.org', '/tmp', '127.0.0.1'])}", "dbname=sales", "user=reader",
                 f"{key}{rng.choice(['=', ' = ', '= '])}{value}"]
        rng.shuffle(parts)
        return " ".join(parts), secret, [secret, value]
    scheme = rng.choice(["postgresql", "postgres"])
    user = rng.choice(["reader", "r%40der", "u"])
    db = rng.choice(["sales", "db%20x", ""])
    extra = rng.sample(["sslmode=require", "connect_timeout=5", "application_name=x"], rng.randint(0, 2))
    if form == "userinfo":
        key = "password"
        encoded = _encode_some(rng, secret, must=":@/?#[]%")
        authority = f"{user}:{encoded}@{_hosts(rng)}"
        query = "&".join(extra)
    else:
        encoded = _encode_some(rng, secret, must="&=#%+")
        spelled_key = _encode_some(rng, key) if rng.random() < 0.6 else key
        params = extra + [f"{spelled_key}={encoded}"]
        rng.shuffle(params)
        authority = f"{user}@{_hosts(rng)}" if rng.random() < 0.7 else _hosts(rng)
        query = "&".join(params)
    url = f"{scheme}://{authority}/{db}" + (f"?{query}" if query else "")
    return url, secret, [secret, encoded]


def _cases():
    rng = random.Random(SEED)
    return [generate(rng) for _ in range(CASES)]


def test_the_generator_writes_what_libpq_reads_as_a_secret():
    kinds = set()
    for text, secret, _spellings in _cases():
        parsed = psycopg2.extensions.parse_dsn(text)
        found = [k for k in ("password", "sslpassword") if parsed.get(k) == secret]
        assert found, (text, parsed)
        kinds.update(found)
        kinds.add("url" if "://" in text else "keyword")
        kinds.add("encoded key" if "%" in text.split("?")[-1].split("=")[0] else "plain key")
    assert kinds >= {"password", "sslpassword", "url", "keyword", "encoded key", "plain key"}


@pytest.mark.parametrize("index", range(0, CASES, 50))
def test_no_spelling_survives_masking(index):
    for text, secret, spellings in _cases()[index:index + 50]:
        outputs = {
            "mask_url": mask_url(text),
            "scrub_text": scrub_text(f'connection to "{text}" failed: FATAL: nope'),
            "mask_secrets": str(mask_secrets({"db_connection": text, "note": f"using {text}"})),
        }
        for where, out in outputs.items():
            assert MASK in out, (where, text, out)
            for spelling in spellings:
                assert spelling not in out, (where, text, out)


def test_masked_urls_keep_what_an_operator_needs():
    assert mask_url("postgresql://reader:pw@db.example.org:5433/sales?sslmode=require&pass%77ord=x") == \
        f"postgresql://reader:{MASK}@db.example.org:5433/sales?sslmode=require&pass%77ord={MASK}"
    assert mask_url("postgresql://reader@db/sales") == "postgresql://reader@db/sales"
    assert scrub_text("LLM_API_KEY=sk-123 EMBEDDING_API_KEY: sk-456 max_tokens=100") == \
        f"LLM_API_KEY={MASK} EMBEDDING_API_KEY: {MASK} max_tokens=100"
    assert scrub_text("GITHUB_TOKEN=ghp_1 AWS_SECRET=abc DB_PASSWORD_FILE=x") == \
        f"GITHUB_TOKEN={MASK} AWS_SECRET={MASK} DB_PASSWORD_FILE={MASK}"
    assert scrub_text('{"password": "p1", "user": "u"}') == f'{{"password": "{MASK}", "user": "u"}}'
    assert scrub_text("Authorization: Bearer abc.def") .count("abc") == 0
