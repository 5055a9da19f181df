"""core/secrets.py rule by rule (issue 27: the mutation run's survivors in the masking code).

The generated-spelling tests (tests/test_masking.py, tests/test_masking_libpq.py) prove that no password libpq
would read survives; these pin the rules whose breaking those generators do not notice: key names that are
secrets only by their exact spelling, a query parameter without `=`, a URL with no authority before its query,
quoted values keeping their quotes, what is not a string, empty secrets, a password holding a comma, keyword
connection strings whose password holds a semicolon (free-text masking stops there, libpq does not), a URL password
holding a space and a `/`, and a password equal to the user name.
"""
from __future__ import annotations

import pytest

from core.secrets import MASK, is_secret_name, mask_secrets, mask_url, scrub_text


@pytest.mark.parametrize("name", ["pwd", "PASS", "secret", "Token", "apikey", "authorization", "p%77d"])
def test_names_that_are_secrets_by_their_exact_spelling(name):
    assert is_secret_name(name)                                 # p%77d: `pwd`, percent-decoded
    assert scrub_text(f"{name}=abc123 next") == f"{name}={MASK} next"


def test_names_that_are_not_secrets():
    for name in ("passage", "tokens_used", "secretary", "user", "host"):
        assert not is_secret_name(name), name
    assert scrub_text("passage=abc tokens_used=12") == "passage=abc tokens_used=12"


def test_a_query_parameter_without_a_value_is_left_as_written():
    assert mask_url("postgresql://h/db?password&sslmode=require") == "postgresql://h/db?password&sslmode=require"
    assert mask_url("postgresql://h/db?sslmode=require&password=") == f"postgresql://h/db?sslmode=require&password={MASK}"


def test_a_url_whose_query_starts_at_once_is_masked():
    """No user-info and no host: the query begins right after `scheme://`."""
    assert scrub_text("using postgresql://?password=abc123 now") == f"using postgresql://?password={MASK} now"
    assert mask_url("postgresql://?host=/tmp&password=abc123") == f"postgresql://?host=/tmp&password={MASK}"


def test_the_user_name_is_shown_as_written():
    """Only the part after the query's `?` is a query: a `?` in a user name with no password is not one."""
    assert mask_url("postgresql://u?token=abc@h/db") == "postgresql://u?token=abc@h/db"


def test_quoted_values_keep_their_quotes():
    assert scrub_text("password='s3cr3t' user=u") == f"password='{MASK}' user=u"
    assert scrub_text('LLM_API_KEY="sk-1" ok') == f'LLM_API_KEY="{MASK}" ok'
    assert scrub_text("password=s3cr3t user=u") == f"password={MASK} user=u"


@pytest.mark.parametrize("value", [None, "", 5, b"password=x"])
def test_what_is_not_text_is_returned_as_it_is(value):
    assert mask_url(value) == value
    assert scrub_text(value) == value


def test_an_empty_secret_stays_empty_and_only_secret_keys_are_blanked():
    assert mask_secrets({"password": "", "api_key": "k", "note": "plain words"}) == \
        {"password": "", "api_key": MASK, "note": "plain words"}
    assert mask_secrets({"": "plain"}) == {"": "plain"}
    assert mask_secrets(["token=abc1 x"]) == [f"token={MASK} x"]


def test_a_keyword_connection_string_is_masked_as_libpq_reads_it():
    """libpq reads `password=abc;def` whole; free-text masking stops at the semicolon, so a value that is a
    connection string is masked from libpq's own reading."""
    assert mask_secrets({"note": "host=h password=abc;def"})["note"] == f"password={MASK} host='h'"
    assert mask_url("host=h password=abc;def") == f"password={MASK} host='h'"
    assert mask_url("sslpassword=a;b password='c") == MASK        # libpq cannot read it: nothing of it is shown


def test_a_secret_value_runs_on_over_commas():
    """libpq reads an unquoted value up to whitespace: `abc,def` is one password, in free text too. A comma before
    a space is the sentence's, and a value that is no secret still ends at a comma (a secret after it is masked
    on its own)."""
    assert scrub_text("connect with password=abc,def host=h") == f"connect with password={MASK} host=h"
    assert scrub_text("LLM_API_KEY=sk-1,sk-2 ok") == f"LLM_API_KEY={MASK} ok"
    assert scrub_text("password=abc, then retried") == f"password={MASK}, then retried"
    assert scrub_text("user=bob,password=abc,def") == f"user=bob,password={MASK}"
    assert scrub_text("mode=a,b, retries=3, done") == "mode=a,b, retries=3, done"


def test_a_url_password_with_a_space_and_a_slash_is_masked_in_free_text():
    text = "connect postgresql://app:p w/x@db/sales failed"
    assert scrub_text(text) == f"connect postgresql://app:{MASK}@db/sales failed"
    # a port is not a password, an IPv6 address not a user name, a user-info ends with its line: the text after
    # them up to an `@` is shown
    for text in ("postgresql://db:5432/sales failed; contact admin@example.com",
                 "postgresql://[::1]:5432/db down, ask ops@example.com", "http://example.com:8080/a b@c",
                 "see postgresql://app:x/y\n and mail ops@example.com"):
        assert scrub_text(text) == text


@pytest.mark.parametrize("text, masked", [
    ("postgresql://u:p w/x@db/spassword='s e c'", f"postgresql://u:{MASK}@db/spassword='{MASK}'"),
    ("token=abcpostgresql://u:p w/x@db/ssslpassword='k l'", f"token={MASK}"),
    ("token=abc'pass word' ok", f"token={MASK} ok"),
    # a glued quote holding a key=value of its own is that key's: it is masked as such, not swallowed
    ("token=abc'password='s e c'", f"token={MASK}'password='{MASK}'"),
    ("note=ok, id=5 and name: Bob", "note=ok, id=5 and name: Bob"),
])
def test_a_secret_glued_to_a_masked_url_is_masked_too(text, masked):
    """Once the URL's user-info is masked, `postgresql` reads as a key whose value runs on to the next space: the
    value of a key that is not secret is searched for secrets as well, and a quoted text glued to a secret's
    unquoted value is part of that value (both were masked before the URL was, found by random text)."""
    assert scrub_text(text) == masked


def test_a_password_that_is_also_the_user_name_is_masked_and_the_user_shown():
    """The masked text still holds the password's characters (as the user name): rebuilt from libpq's reading."""
    assert mask_url("postgresql://sales:sales@db.example/sales") == f"postgresql://sales:{MASK}@db.example/sales"


def test_a_value_that_is_not_a_url_keeps_its_text_as_written():
    """mask_secrets reads URL values as libpq does (mask_url, which trims them) and any other text as free text:
    a note keeps its trailing newline, a URL with a query password holding a space is masked whole."""
    note = "first line\nsecond line password=abc\n"
    assert mask_secrets({"note": note}) == {"note": f"first line\nsecond line password={MASK}\n"}
    assert mask_secrets({"url": "postgresql:///s?host=/tmp&password=x y"}) == \
        {"url": f"postgresql:///s?host=/tmp&password={MASK}"}


def test_a_url_value_is_masked_as_a_url_not_as_free_text():
    """A password with a space and a `/` (libpq reads no user-info at all): the URL mask takes the user-info to the
    last `@`."""
    url = "postgresql://app:p ss/w0rd@db.example/sales"
    assert mask_secrets({"db_connection": url, "note": url}) == \
        {"db_connection": f"postgresql://app:{MASK}@db.example/sales",
         "note": f"postgresql://app:{MASK}@db.example/sales"}
