"""Value shapes of personal data and secrets, independent of any column name (used by `schema.pii`).

Shapes, whole value or inside free text:
- phones in any locale: Chinese mobiles/landlines, `+55 (12) 3923-5566`, `(555) 123-4567`, `+1-780-428-3457`,
  `555-123-4567` (7..15 digits; dates, times, coordinates and plain numbers are not phones);
- payment cards (13..19 digits passing the Luhn check) and IBANs (ISO 13616 mod-97 check);
- secrets: password hashes (hex digests of SHA-1 and longer, bcrypt/argon2/crypt/pbkdf2 strings, `{SSHA}`), JWTs,
  PEM blocks and long random tokens (mixed-case letters and digits, high entropy). A 32-hex value is NOT taken for
  an MD5 by its shape: most databases use exactly that shape for ids (uuid without dashes).
"""
from __future__ import annotations

import math
import re
from collections import Counter

# ------------------------------------------------------------------------------------------------- phones
CN_PHONE = re.compile(r"^(\+?86[- ]?)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
INTL_PHONE = re.compile(r"^\+\d{1,3}([\s.-]?\(\d{1,4}\))?[\s.-]?\d[\d\s.-]{4,16}\d$")   # +55 (12) 3923-5566
PAREN_PHONE = re.compile(r"^\(\d{2,5}\)[\s.-]?\d{2,5}([\s.-]?\d{2,5}){1,2}$")           # (555) 123-4567
# 555-123-4567, 020 7946 0958, 555.123.4567 (not 12 345 678, a number with thousands separators, nor 10.100.200)
GROUPED_PHONE = re.compile(r"^\d{2,5}[\s-]\d{3,4}[\s-]\d{4,5}$|^\d{3}\.\d{3}\.\d{4}$")
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def is_phone(value: str) -> bool:
    v = value.strip()
    if CN_PHONE.match(v):
        return True
    if _DATE_LIKE.match(v) or not 7 <= len(digits(v)) <= 15:
        return False
    return bool(INTL_PHONE.match(v) or PAREN_PHONE.match(v) or GROUPED_PHONE.match(v))


# phone-shaped runs inside free text: CN mobile, +international, (area) number, 3-3-4 groups
INLINE_PHONE = (r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(\d{1,4}\))?[\s.-]?\d[\d.-]*(?:\s\d[\d.-]*)*\d(?!\w)"
                r"|(?<![\w(])\(\d{2,5}\)\s?\d{2,5}[\s.-]?\d{2,5}(?:[\s.-]\d{2,5})?(?!\w)"
                r"|(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w])"
                r"|(?<!\d)1[3-9]\d{9}(?!\d)")


# ------------------------------------------------------------------------------------------ cards, IBANs
CARD = re.compile(r"^\d{4}([ -]?\d{2,4}){2,4}\d{0,3}$|^\d{13,19}$")
INLINE_CARD = r"(?<![\w-])\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?(?![\w-])|(?<!\d)[3-6]\d{12,18}(?!\d)"
IBAN = re.compile(r"^[A-Z]{2}\d{2}( ?[A-Z0-9]){11,30}$")
INLINE_IBAN = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"


def luhn_valid(number: str) -> bool:
    d = digits(number)
    return 13 <= len(d) <= 19 and len(set(d)) > 1 and _luhn_ok(d)


UK_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]$")
CA_SIN = re.compile(r"^\d{3}[- ]\d{3}[- ]\d{3}$")


def _luhn_ok(d: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def is_national_id(value: str) -> bool:
    """National insurance / social insurance numbers of other locales (UK NINO; Canadian SIN with Luhn)."""
    v = value.strip().upper()
    return bool(UK_NINO.match(v)) or (bool(CA_SIN.match(v)) and _luhn_ok(digits(v)))


def is_card(value: str) -> bool:
    v = value.strip()
    return bool(CARD.match(v)) and luhn_valid(v)


def iban_valid(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if not IBAN.match(v) or not 15 <= len(v) <= 34:
        return False
    rearranged = v[4:] + v[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# -------------------------------------------------------------------------------------------------- secrets
HEX_DIGEST = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$")
CRYPT = re.compile(r"^(\$(2[abxy]?|argon2(id|i|d)?|scrypt|pbkdf2[-_\w]*|[156]|y|7|sha1)\$|\{(S?SHA\d*|MD5|CRYPT|"
                   r"PBKDF2[-\w]*|BCRYPT)\}|(pbkdf2_sha\d+|bcrypt|argon2|sha1|md5)\$)", re.I)
JWT = re.compile(r"^eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*$")
PEM = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE|PUBLIC KEY|KEY)-----")
KNOWN_TOKEN = re.compile(r"^(sk|pk|rk)_(live|test)_\w{10,}$|^gh[pousr]_\w{20,}$|^xox[abprs]-[\w-]{10,}$|"
                         r"^AKIA[0-9A-Z]{16}$|^AIza[\w-]{30,}$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-+/=.~]{24,}$")
INLINE_SECRET = (r"eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*|\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"
                 r"|(?<![0-9a-fA-F])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40})(?![0-9a-fA-F])"
                 r"|-----BEGIN [A-Z ]+-----")


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def is_random_token(value: str) -> bool:
    """Long, no spaces, upper and lower case letters and digits, high entropy: an API key, session token..."""
    if not _TOKEN_CHARS.match(value) or "://" in value:
        return False
    return (any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
            and _entropy(value) >= 4.0)


def is_secret(value: str) -> bool:
    v = value.strip()
    return bool(HEX_DIGEST.match(v) or CRYPT.match(v) or JWT.match(v) or PEM.search(v) or KNOWN_TOKEN.match(v)
                or is_random_token(v))
