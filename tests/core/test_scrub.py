"""Every known secret, from the environment and the credential files, masked in every form
a message may carry it."""

import base64
import json
from pathlib import Path

from fruitveg.core import secrets

from .planted import KEY, PASSWORD, TOKEN, USER, planted_forms


def test_every_form_is_masked() -> None:
    scrub = secrets.Scrubber([TOKEN, KEY, PASSWORD], [USER])
    for value in (TOKEN, KEY, PASSWORD):
        for form in planted_forms(value, USER):
            text = scrub(f"before {form} after")
            assert form not in text and text.startswith("before ") and text.endswith(" after")


def test_base64_at_any_offset_is_masked() -> None:
    """A secret inside a longer base64 text (an echoed request, a JSON blob) is found too."""
    scrub = secrets.Scrubber([TOKEN])
    for prefix in ("", "a", "ab", "abc", '{"auth": "'):
        blob = base64.b64encode(f"{prefix}{TOKEN} trailing".encode()).decode()
        for text in (blob, blob.replace("+", "-").replace("/", "_")):
            masked = scrub(text)
            assert masked.count(secrets.MASK) == 1
            # The masked characters [a, b) cover the token's bytes but for the partial
            # base64 groups at its two ends (at most 2 bytes each).
            a = masked.index(secrets.MASK)
            b = len(text) - (len(masked) - a - len(secrets.MASK))
            start, end = len(prefix), len(prefix) + len(TOKEN)
            assert start - 3 <= a * 3 // 4 <= start + 2 and b * 3 // 4 >= end - 2


def test_short_and_empty_values_are_left_alone() -> None:
    scrub = secrets.Scrubber(["", "ab"])
    assert scrub("ab cd") == "ab cd"


def test_known_reads_the_environment_and_every_credential_file(tmp_path: Path) -> None:
    home, config, root = tmp_path / "home", tmp_path / "config", tmp_path / "repo"
    for folder in (home / ".kaggle", config, root):
        folder.mkdir(parents=True)
    (config / "kaggle.json").write_text(json.dumps({"username": USER, "key": KEY}))
    (home / ".kaggle" / "access_token").write_text("KGAT_fromfile_123456\r\n")
    (home / ".kaggle" / "credentials.json").write_text(json.dumps({"refresh_token": "rt-98765"}))
    (root / "db.env").write_text("FRUITVEG_DB_USER=u\nexport FRUITVEG_DB_PASSWORD = 'dbpass99'\n")
    environ = {
        "HOME": str(home),
        "KAGGLE_CONFIG_DIR": str(config),
        "KAGGLE_API_TOKEN": TOKEN + "\r",
        "KAGGLE_USERNAME": "envuser",
        "DVC_ROOT": str(root),
    }
    values, users = secrets.known(environ)
    for value in (TOKEN, TOKEN + "\r", KEY, "KGAT_fromfile_123456", "rt-98765", "dbpass99"):
        assert value in values
    assert {USER, "envuser"} <= set(users)
    environ["FRUITVEG_DB_ENV_FILE"] = str(tmp_path / "elsewhere.env")
    (tmp_path / "elsewhere.env").write_text("FRUITVEG_DB_PASSWORD=otherpass\n")
    assert "otherpass" in secrets.known(environ)[0]
