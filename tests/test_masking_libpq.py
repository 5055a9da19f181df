"""Issue 23, point 4, and issue 27's survivor in core/secrets.py: masking judged by libpq's own parser.

A deterministic generator writes passwords with what the first generator (tests/test_masking.py) always
percent-encoded: unencoded spaces, both quotes, `<`, `#`, `:`, `?`, `&`, `=`, backslashes and percent-escapes in
the URL's user-info, in its query (also after a `#`) and in key=value strings. Each spelling is first read by
libpq (`parse_dsn`), so the secret is what libpq would send. After masking, libpq must find no password but the
mask, and the secret must not be in the text - in `mask_url`, `mask_secrets` and `scrub_text`, and through the
API: the create answer, `?include=parameters`, task_config.json and the zip.
"""
from __future__ import annotations

import io
import json
import random
import zipfile

import psycopg2.extensions
import pytest

from core.secrets import MASK, mask_secrets, mask_url, scrub_text
from tests.executor_support import BASE

SEED = 23
CASES = 400
# characters libpq keeps inside a user-info password written unencoded (it stops at `@` and `/` only)
_USERINFO_CHARS = "abcXYZ019 '\"<>#:?&=\\!$*()[];,~"
_QUERY_CHARS = "abcXYZ019 '\"<>#:?\\!$*()[];,~@/"        # a query value ends at `&` and may not hold `=`
_KEYWORD_CHARS = "abcXYZ019 '\"<>#:?&=\\!$*()[];,~@/%"
_ESCAPES = ["%20", "%40", "%2F", "%25", "%23", "%3A", "%27"]


def _body(rng: random.Random, chars: str, escapes: bool) -> tuple[str, str]:
    """(spelling, what libpq decodes it to)."""
    spelled, decoded = [], []
    for _ in range(rng.randint(4, 10)):
        if escapes and rng.random() < 0.2:
            esc = rng.choice(_ESCAPES)
            spelled.append(esc)
            decoded.append(bytes.fromhex(esc[1:]).decode())
        else:
            ch = rng.choice(chars)
            spelled.append(ch)
            decoded.append(ch)
    return "".join(spelled), "".join(decoded)


def generate(rng: random.Random) -> tuple[str, str]:
    """(connection string, the secret libpq reads from it); the secret starts with Zq and ends with 9x."""
    form = rng.choice(["userinfo", "userinfo", "query", "query_after_hash", "keyword_quoted", "keyword_bare"])
    user = rng.choice(["app", "reader", "r%40der"])
    host = rng.choice(["db.example", "127.0.0.1:5433", "h1:5432,h2:5433", "[::1]:5432"])
    scheme = rng.choice(["postgresql://", "postgres://"])
    if form == "userinfo":
        spelled, decoded = _body(rng, _USERINFO_CHARS, escapes=True)
        secret = f"Zq{decoded}9x"
        tail = rng.choice(["", "?sslmode=prefer", "?connect_timeout=5&application_name=x"])
        return f"{scheme}{user}:Zq{spelled}9x@{host}/sales{tail}", secret
    if form.startswith("query"):
        spelled, decoded = _body(rng, _QUERY_CHARS, escapes=True)
        key = rng.choice(["password", "sslpassword", "pass%77ord"])
        lead = "sslmode=prefer#&" if form == "query_after_hash" else rng.choice(["", "connect_timeout=5&"])
        return f"{scheme}{user}@{host}/sales?{lead}{key}=Zq{spelled}9x", f"Zq{decoded}9x"
    if form == "keyword_quoted":
        _, decoded = _body(rng, _KEYWORD_CHARS, escapes=False)
        secret = f"Zq{decoded}9x"
        value = "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"
    else:
        raw = "".join(rng.choice(_KEYWORD_CHARS) for _ in range(rng.randint(4, 10)))
        secret = f"Zq{raw}9x"
        value = "".join("\\" + ch if ch in " \\'" else ch for ch in secret)   # backslash escapes, no quotes
    parts = ["host=db.example", "dbname=sales", "user=reader", f"{rng.choice(['password', 'sslpassword'])}={value}"]
    rng.shuffle(parts)
    return " ".join(parts), secret


def _cases() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    return [generate(rng) for _ in range(CASES)]


def _libpq_secrets(text: str) -> list[str]:
    try:
        parsed = psycopg2.extensions.parse_dsn(text)
    except psycopg2.ProgrammingError:
        return []
    return [v for k, v in parsed.items() if k in ("password", "sslpassword") and v not in ("", MASK)]


def assert_masked(where: str, text: str, secret: str, out: str) -> None:
    assert secret not in out, (where, text, out)
    assert _libpq_secrets(out) == [], (where, text, out)


def test_the_generator_writes_what_libpq_reads_as_a_secret():
    forms = set()
    for text, secret in _cases():
        assert secret in _libpq_secrets(text), text
        forms.update(ch for ch in " '\"<#:@" if ch in text.split("9x")[0])
    assert forms >= set(" '\"<#:@")


def test_no_password_survives_masking_as_libpq_reads_it():
    for text, secret in _cases():
        assert_masked("mask_url", text, secret, mask_url(text))
        assert_masked("mask_secrets", text, secret, mask_secrets({"db_connection": text})["db_connection"])
        if "://" in text:
            assert_masked("scrub_text", text, secret, scrub_text(f"connection to {text} failed: FATAL: nope"))


def test_a_password_with_an_unencoded_at_and_slash_is_masked_whole():
    """Issue 27: the user-info ends at the last `@` (libpq stops at the first and reads host `ss`)."""
    url = "postgresql://app:p@ss/w0rd@db.example/sales"
    for out in (mask_url(url), mask_secrets({"db_connection": url})["db_connection"], scrub_text(f"using {url}")):
        assert "ss/w0rd" not in out and f"postgresql://app:{MASK}@db.example/sales" in out, out
    assert mask_url("postgresql://app:pa ss@db/x") == f"postgresql://app:{MASK}@db/x"
    assert mask_url("postgresql://u@h/db?sslmode=prefer#&password=s3cr3t") == \
        f"postgresql://u@h/db?sslmode=prefer#&password={MASK}"
    assert mask_url("postgresql://reader@h:5432/db?application_name=a@b") == \
        "postgresql://reader@h:5432/db?application_name=a@b"       # nothing secret: unchanged


def _zip_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


@pytest.mark.parametrize("index", range(0, 48, 8))
def test_the_api_never_shows_a_generated_password(client, index):
    urls = [(t, s) for t, s in _cases() if "://" in t][index:index + 8]
    made = 0
    for text, secret in urls:
        created = client.post(BASE, json={"task_name": "masking", "db_connection": text,
                                          "vector_db_connection": text})
        answer = created.get_json()
        if created.status_code == 400:     # sslpassword refused by name, a `#` read as a fragment: not echoed
            assert secret not in json.dumps(answer, ensure_ascii=False), answer
            continue
        assert created.status_code == 201, (text, answer)
        made += 1
        task_id = answer["data"]["task_id"]
        status = client.get(f"{BASE}/{task_id}?include=parameters").get_json()["data"]
        config = client.get(f"{BASE}/{task_id}/files/task_config.json").get_data(as_text=True)
        archive = _zip_text(client.get(f"{BASE}/{task_id}/files/archive").get_data())
        for where, out in (("create", json.dumps(answer, ensure_ascii=False)),
                           ("include=parameters", json.dumps(status, ensure_ascii=False)),
                           ("task_config.json", config), ("zip", archive)):
            assert secret not in out and secret.replace("\\", "\\\\") not in out, (where, text)
        for shown in (status["parameters"]["db_connection"], status["parameters"]["vector_db_connection"],
                      json.loads(config)["parameters"]["db_connection"]):
            assert _libpq_secrets(shown) == [], (text, shown)
    assert made >= 3
