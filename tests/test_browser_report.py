"""The HTML report in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright):
loads with no console errors and no network, has the expected rows, sorts on a header click, and
renders (screenshot)."""
from __future__ import annotations

from pathlib import Path

import pytest

from psybench.report.page import build_report
from test_report_helpers import generation_metrics, write_run

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _report(root: Path) -> Path:
    ids = [f"{600000 + i:06d}/{i + 1}" for i in range(12)]
    runs = []
    for name, model, base, step in (("run-b", "beta", 0.1, 0.06), ("run-a", "alpha", 0.0, 0.05)):
        scores = {s: {"paper.meteor_swapped_jieba": step * i, "corrected.meteor": (step - 0.01) * i}
                  for i, s in enumerate(ids)}
        runs.append(write_run(root, name, model=model, metrics=generation_metrics(base), scores=scores,
                              paper_status_counts={"ok": 10, "no_marker": 2}))
    return build_report(runs, root / "report", rebuild_prompts=False)


def test_report_in_headless_chromium(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    page_path = _report(tmp_path)
    shot = tmp_path / "report.png"
    errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1300, "height": 900})
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri(), wait_until="load")
            table = page.locator("#leaderboard")
            assert table.locator("tbody tr").count() == 4  # 2 runs x 2 metric modes
            headers = table.locator("thead th").all_inner_texts()
            model_col = headers.index("model")
            meteor_col = headers.index("meteor")  # the corrected-mode METEOR column

            def column(i: int) -> list[str]:
                return table.locator(f"tbody tr td:nth-child({i + 1})").all_inner_texts()

            assert column(model_col) == ["beta", "beta", "alpha", "alpha"]  # input order
            table.locator("thead th").nth(model_col).click()
            assert column(model_col) == ["alpha", "alpha", "beta", "beta"]
            assert table.locator("thead th").nth(model_col).get_attribute("aria-sort") == "ascending"
            table.locator("thead th").nth(meteor_col).click()  # ascending; paper rows (empty) go last
            assert column(meteor_col) == ["0.2500", "0.3500", "", ""]
            table.locator("thead th").nth(meteor_col).click()
            assert column(meteor_col) == ["0.3500", "0.2500", "", ""]
            # every chart is an inline data URI that decoded (naturalWidth > 0)
            widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
            assert len(widths) >= 12 and min(widths) > 0
            # untrusted text is escaped, not executed
            assert page.locator("script").count() == 1
            assert "<script>alert(1)</script>" in page.locator(".example pre").nth(2).inner_text()
            # the first screen answers "how good, compared with what": Table 5's columns per run
            assert page.locator("h2").first.inner_text() == "Summary: Table 5's columns"
            assert page.locator("table.summary").first.locator("tbody th").all_inner_texts() == [
                "BERTScore-P", "BLEU-1", "BLEU-3", "METEOR", "ROUGE-L", "Distinct-2"]
            page.screenshot(path=str(shot), full_page=True)
            # at a phone's width nothing pushes the page sideways: wide tables scroll in their own box
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert page.locator("table.summary").first.bounding_box()["x"] >= 0
        finally:
            context.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
