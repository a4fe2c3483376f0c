"""Secrets planted by the scrubbing tests, and the forms real messages carry them in."""

import base64
import json
from urllib.parse import quote

TOKEN = "KGAT_0123456789abcdef0123456789abcdef"
USER, KEY = "someone", "k3y/with+odd=chars&more"
PASSWORD = "pa ss'w\"ord\\x"


def planted_forms(value: str, user: str | None = None) -> list[str]:
    """How a secret shows up in real messages; written here, not taken from the code."""
    found = [value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe="")]
    if user:
        found.append(base64.b64encode(f"{user}:{value}".encode()).decode())
    return found
