"""Write vega/page.html: the page template of `dvc plots show`, chart libraries inlined.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so offline its charts stay
blank. This fetches the three packages from the npm registry at set-up (versions and
sha512 integrity pinned in vega/package-lock.json; no npm or node needed), checks each
tarball against its integrity, and copies vega/page.html.in with every
`<script src="node_modules/<pkg>/<file>">` replaced by that file's contents. .dvc/config
names the result (plots.html_template), so every index.html DVC writes carries the
libraries itself and opens anywhere, also when copied away from the repository.

Usage: python scripts/offline_plots.py      (make plots-offline; make repro and make test run it)
"""

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import urllib.request
from pathlib import Path

VEGA = Path(__file__).resolve().parents[1] / "vega"
SOURCE = VEGA / "page.html.in"
PAGE = VEGA / "page.html"
LOCK = VEGA / "package-lock.json"
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
SCRIPT = re.compile(r'<script src="node_modules/([^/"]+)/([^"]+)"></script>')
# DVC fills the template with str.replace: a library holding one of these would be changed.
DVC_PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")


def fetch(package: str) -> tarfile.TarFile:
    """The package's tarball at its locked version, checked against the lock's integrity."""
    locked = json.loads(LOCK.read_text())["packages"].get(f"node_modules/{package}")
    if not locked or not str(locked.get("integrity", "")).startswith("sha512-"):
        raise SystemExit(f"{LOCK}: no version with sha512 integrity for {package}")
    url = f"{REGISTRY}/{package}/-/{package}-{locked['version']}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except OSError as exc:
        raise SystemExit(
            f"{url}: cannot download ({exc}); the npm registry must be reachable"
        ) from None
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != locked["integrity"]:
        raise SystemExit(f"{url}: integrity mismatch with {LOCK.name}; refusing to use it")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def inline(package: str, file: str, tarball: tarfile.TarFile) -> str:
    member = tarball.extractfile(f"package/{file}")
    if member is None:
        raise SystemExit(f"{package}: no {file} in its tarball")
    code = member.read().decode("utf-8")
    code = re.sub(r"//# sourceMappingURL=\S+\s*$", "", code)  # the map is not copied
    clash = [p for p in DVC_PLACEHOLDERS if p in code]
    if clash:
        raise SystemExit(f"{package}/{file}: holds DVC's placeholder {clash[0]}; cannot inline")
    # "</script" inside the code would end the element early.
    code = code.replace("</script", "<\\/script")
    return f"<script>/* {package}/{file} */\n{code}\n</script>"


def main() -> None:
    source = SOURCE.read_text(encoding="utf-8")
    tarballs = {package: fetch(package) for package, _ in SCRIPT.findall(source)}
    page = SCRIPT.sub(lambda m: inline(m[1], m[2], tarballs[m[1]]), source)
    tmp = PAGE.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(PAGE)  # whole or not at all
    print(f"{PAGE.relative_to(VEGA.parent)}: {len(page) // 1024} KiB, chart libraries inlined")


if __name__ == "__main__":
    main()
