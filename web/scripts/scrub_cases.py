"""Write src/lib/log/scrub-cases.json: logship's answers for a corpus of log text.

The web server's log scrubbing (src/lib/log/scrub.ts) mirrors logship's rules; its tests
check it against these answers. Run again after a change to logship.scrub or logship.redact:
    ../.venv/bin/python scripts/scrub_cases.py
"""

from __future__ import annotations

import json
from pathlib import Path

from logship.context import request_id_from
from logship.redact import is_sensitive_key
from logship.scrub import clean_text, scrub_path, scrub_query

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
TEXT = [
    "mail bob.smith+x@mail.example.com now",
    "a@b.io and c@d.co",
    "card 4111 1111 1111 1111!",
    "4111-1111-1111-1111",
    "amex 378282246310005",
    "#8 4111 1111 1111 1111",
    f"jwt {JWT} end",
    "Bearer abcdef123456",
    "BEARER abcdef123456",
    "/p?code=s3cr3t&page=2",
    "/p?session=abc",
    "/p?sessionid=abc",
    "/p?a=1&pwd=x",
    "/p?pw=x;pass=y",
    "/p?cc=1&ssn=2",
    "/p?Card%5B0%5D=1",
    "/p#access_token=t",
    "/p?q=bob%40example.com",
    "/p?q=4111+1111+1111+1111&n=2",
    "/p?q=4111%201111%201111%201111",
    "/p?q=Bearer%20abcdefgh1",
    "/p?email=bob@example.com",
    "failed pw=hunter2",
    "session=abc123 ok",
    'pwd="a b"',
    "x (pwd=abc)",
    "Mozilla/5.0 (x; session=s1) Chrome/1",
    "/api/catalog/items/4111111111111111",
    "/u/bob@example.com/x",
    "order 4111111111111112",
    "4111 1111 1111 1112",
    "id 123456789012",
    "n 12345678901234567890",
    "ts 1700000000000",
    "2026-01-02T03:04:05.678Z",
    "123e4567-e89b-12d3-a456-426614174000",
    "3f2c9a1e0b7d4c6f8a5e2d1c0b9a8f7e",
    "req-20260102-000001.a_b",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "at foo@https://shop.example/a.js:1:2",
    "/p?page=2&sort=asc",
    "upstream failed code=502 key=catalog",
    "bearer of bad news",
    "GET /api/catalog/items/42 200",
    "ab==cd",
    "\u0664" * 16,
    "",
    "Authorization: Basic dXNlcjpwYXNz",
    "cookie: sid=abc; theme=dark",
    "connect to postgres://app:hunter2@db:5432/x",
    "password: hunter2, user: bob",
    "api_key='k-123' region=eu",
    "https://x.example/cb?token=abc&state=xyz&x=1",
    "client_secret = s3cr3t",
    "naïve café 4111111111111111 über",
    "x-api-key=abc123 done",
    "refresh_token=r1&access_token=a1",
]
QUERIES = [
    "email=bob@example.com&page=2",
    "q=bob%40example.com",
    "session=abc&pwd=x",
    "token=abc",
    f"t={JWT}",
    "?card=1",
    "n=4111111111111111",
    "x=%ZZ&y=%E0%A4%A",
    "date=2026-01-02&id=123e4567-e89b-12d3-a456-426614174000",
    "a&b&=&==",
]
PATHS = [
    "/api/catalog/items/4111111111111111",
    "/u/bob%40example.com/x",
    "/u/4111%201111%201111%201111",
    "/a%2Fb/%ZZ",
    "/orders/123e4567-e89b-12d3-a456-426614174000",
    "/reports/2026-01-02",
]
KEYS = [
    "password", "db_password", "Authorization", "x-api-key", "csrf_token", "session_id",
    "SessionId", "user", "status", "client-secret", "private_key", "email", "signature_v2",
]  # fmt: skip
REQUEST_IDS = [
    "abc-123",
    "req-20260102-000001.a_b",
    "4111111111111111",
    JWT,
    "a" * 128,
    "a" * 129,
    "bad id",
    "x\r\ny",
    "",
]


def main() -> None:
    """Write the answers next to the module that must agree with them."""
    cases = {
        "clean_text": [[text, clean_text(text)] for text in TEXT],
        "scrub_query": [[query, scrub_query(query)] for query in QUERIES],
        "scrub_path": [[path, scrub_path(path)] for path in PATHS],
        "sensitive_key": [[key, is_sensitive_key(key)] for key in KEYS],
        "request_id_kept": [[value, request_id_from(value) == value] for value in REQUEST_IDS],
    }
    target = Path(__file__).resolve().parents[1] / "src" / "lib" / "log" / "scrub-cases.json"
    target.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
