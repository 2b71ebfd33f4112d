"""The weekly report page as a browser lays it out (Debian's chromium, headless): no chart text
leaves its chart, none sits on another, and bar labels read as words.

The page itself allows no script (its Content-Security-Policy); the test renders a copy without the
policy and with a measuring script appended, and reads what the script wrote into the page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claimwatch.cli import main
from claimwatch.sample.generator import generate

pytestmark = pytest.mark.browser

MEASURE = """
<script>
const found = [];
for (const svg of document.querySelectorAll("svg")) {
  const width = svg.width.baseVal.value, height = svg.height.baseVal.value;
  const texts = [...svg.querySelectorAll("text")].map(t => ({text: t.textContent, box: t.getBBox()}));
  for (const t of texts) {
    const b = t.box;
    if (b.x < -0.5 || b.y < -0.5 || b.x + b.width > width + 0.5 || b.y + b.height > height + 0.5)
      found.push(`clipped in "${svg.getAttribute("aria-label")}": ${t.text}`);
  }
  for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
    const a = texts[i].box, b = texts[j].box;
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
      found.push(`overlap in "${svg.getAttribute("aria-label")}": ${texts[i].text} / ${texts[j].text}`);
  }
}
const out = document.createElement("pre");
out.id = "layout";
out.textContent = JSON.stringify({charts: document.querySelectorAll("svg").length, problems: found});
document.body.appendChild(out);
</script>
"""


def laid_out(page: str, tmp_path: Path) -> dict[str, Any]:
    without_policy = re.sub(r"<meta http-equiv='Content-Security-Policy'[^>]*>", "", page)
    path = tmp_path / "page.html"
    path.write_text(without_policy.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    chromium = shutil.which("chromium")
    assert chromium is not None
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"<pre id=\"layout\">(.*?)</pre>", done.stdout, re.S)
    assert found, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&"))
    return result


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A full week of a generated data set: every chart of the page has data."""
    base = tmp_path_factory.mktemp("page")
    generate(base / "in", seed=3, items=40, days=8)
    assert main(["run", "--input", str(base / "in"), "--out", str(base / "out"), "--quiet"]) == 0
    return (base / "out" / "2026-W45" / "report.html").read_text(encoding="utf-8")


def test_no_chart_text_is_clipped_or_on_another(page: str, tmp_path: Path) -> None:
    assert "Daily YouTube views" in page and "<polyline" in page, "the page has its line chart"
    result = laid_out(page, tmp_path)
    assert result["charts"] >= 5
    assert result["problems"] == []


def test_the_old_layout_is_caught(tmp_path: Path) -> None:
    """The measure finds what it looks for: a legend on the title's line, a day label past the edge."""
    broken = (
        "<!DOCTYPE html><html><body><svg aria-label='t' width='200' height='60'>"
        "<text x='0' y='14'>a long chart title here</text><text x='20' y='16'>legend</text>"
        "<text x='190' y='50'>11-15</text></svg></body></html>"
    )
    assert len(laid_out(broken, tmp_path)["problems"]) == 2


def test_bar_labels_read_as_words(page: str) -> None:
    labels = re.findall(r"<text x='0' y='\d+' class='cl'>([^<]*)</text>", page)
    assert labels and not [label for label in labels if "_" in label]
