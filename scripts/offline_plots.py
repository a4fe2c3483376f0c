"""Write vega/page.html: the page template of `dvc plots show`, chart libraries inlined.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so offline its charts stay
blank. `make plots-offline` installs them from npm into vega/node_modules (versions pinned in
vega/package-lock.json), then runs this, which copies vega/page.html.in with each
`<script src="node_modules/...">` replaced by that file's contents. .dvc/config names the
result (plots.html_template), so every index.html DVC writes carries the libraries itself
and opens anywhere, also when copied away from the repository.

Usage: python scripts/offline_plots.py
"""

import re
from pathlib import Path

VEGA = Path(__file__).resolve().parents[1] / "vega"
SOURCE = VEGA / "page.html.in"
PAGE = VEGA / "page.html"
SCRIPT = re.compile(r'<script src="(node_modules/[^"]+)"></script>')
# DVC fills the template with str.replace: a library holding one of these would be changed.
DVC_PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")


def inline(match: re.Match[str]) -> str:
    path = VEGA / match.group(1)
    if not path.is_file():
        raise SystemExit(f"{path}: missing; install the libraries first: make plots-offline")
    code = path.read_text(encoding="utf-8")
    code = re.sub(r"//# sourceMappingURL=\S+\s*$", "", code)  # the map is not copied
    clash = [p for p in DVC_PLACEHOLDERS if p in code]
    if clash:
        raise SystemExit(f"{path}: holds DVC's placeholder {clash[0]}; cannot inline it")
    # "</script" inside the code would end the element early.
    code = code.replace("</script", "<\\/script")
    return f"<script>/* {match.group(1)} */\n{code}\n</script>"


def main() -> None:
    page = SCRIPT.sub(inline, SOURCE.read_text(encoding="utf-8"))
    tmp = PAGE.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(PAGE)  # whole or not at all
    print(f"{PAGE.relative_to(VEGA.parent)}: {len(page) // 1024} KiB, chart libraries inlined")


if __name__ == "__main__":
    main()
