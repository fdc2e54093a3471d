"""``--format html`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by ``.ci/run``) driven through Selenium.

The report of the bundled ``inventories/prod`` example is loaded from ``file://`` and
checked against the JSON report and the facts of the same run: the counts, the matrix, the
severity / group / rule filters applied by interacting with the page (and kept in the URL
fragment), a cell opening its findings with their ``path:line``, no console error (a CSP
that blocked the page's own script would show there), and a screenshot that is not blank.
A page of hostile names shows them as text, and a 1,000-host fleet still renders.

Without Chromium or Selenium the tests skip, except under ``MLFLOW_POLICY_REQUIRE_ALL=1``
(CI), where they fail.
"""

from __future__ import annotations

import itertools
import json
import operator
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, SupportsIndex

import pytest

from mlflow_policy.cli import main
from mlflow_policy.report import ReportOptions
from mlflow_policy.report.html import render
from tests.support import REPO, skip_or_fail
from tests.test_report_html import EVIL, LIVE, hostile_result

pytestmark = pytest.mark.slow

PAGE_TIMEOUT = 60.0  # seconds for a page to be drawn, the 1,000-host one on a loaded machine


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed: rerun ./dev test (the test extra has it)")
    chromium = shutil.which("chromium")
    driver_bin = shutil.which("chromedriver")
    if chromium is None or driver_bin is None:
        skip_or_fail("chromium and chromium-driver (Debian packages) are not installed: "
                     "apt-get install chromium chromium-driver, as .ci/run does")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the driver is Debian's: never let Selenium Manager look for (download) another one
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_bin))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def _load(browser: Any, page: Path, fragment: str = "") -> float:
    """Open the page and wait until its script has drawn it; the seconds that took."""
    started = time.monotonic()
    browser.get(page.as_uri() + fragment)
    while browser.execute_script("return document.body.dataset.ready") != "1":
        if time.monotonic() - started > PAGE_TIMEOUT:
            errors = browser.get_log("browser")
            pytest.fail(f"the page was not drawn in {PAGE_TIMEOUT} s: {errors}")
        time.sleep(0.05)
    return time.monotonic() - started


def _errors(browser: Any) -> list[Any]:
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def _count(browser: Any, css: str) -> int:
    return int(browser.execute_script(f"return document.querySelectorAll({css!r}).length"))


def _text(browser: Any, element_id: str) -> str:
    return str(browser.execute_script(
        f"return document.getElementById({element_id!r}).textContent"))


def _pairs(findings: list[dict[str, Any]], **where: Any) -> set[tuple[str, str, str]]:
    """(rule, inventory, host) of the unwaived findings about a host, filtered."""
    return {(f["rule"], f["inventory"], f["host"]) for f in findings
            if not f["waived"] and f["host"] is not None
            and all(f[k] == v for k, v in where.items())}


_WRAP = bytes(range(256)) * 2  # (a + b) & 255 as a lookup, for map() at C speed


def _sub(a: SupportsIndex, b: int) -> int:
    return (int(a) + b) & 0xFF


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    """Undo one PNG row filter (None, Sub, Up, Average, Paeth)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytes(map(_WRAP.__getitem__, map(operator.add, line, prev)))
    if kind == 1:
        out = bytearray(line)
        for c in range(bpp):
            out[c::bpp] = bytes(itertools.accumulate(line[c::bpp], _sub))
        return bytes(out)
    out = bytearray(line)
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 3:
            out[i] = (out[i] + (a + b) // 2) & 0xFF
            continue
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return bytes(out)


def png_colours(path: Path, rows: int = 240) -> int:
    """How many distinct colours the top ``rows`` rows of an 8-bit RGB(A) PNG hold (the
    summary, the filters and the start of the matrix), decoded with zlib: no Pillow."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour_type in (2, 6)
    assert height >= rows
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompressobj().decompress(idat, rows * (width * bpp + 1))
    stride = width * bpp
    previous = bytes(stride)
    colours: set[bytes] = set()
    for y in range(rows):
        start = y * (stride + 1)
        line = _unfilter(raw[start], raw[start + 1:start + 1 + stride], previous, bpp)
        colours.update(line[i:i + 3] for i in range(0, stride, bpp))
        previous = line
    return len(colours)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The html, json and facts reports of one run on the bundled prod example."""
    out = tmp_path_factory.mktemp("prod")
    import os

    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        code = main(["check", "-i", "inventories/prod", "--format", f"html={out / 'r.html'}",
                     "--format", f"json={out / 'r.json'}"])
        assert code == 1
        assert main(["facts", "-i", "inventories/prod", "--format", "json",
                     "-o", str(out / "facts.json")]) == 0
    finally:
        os.chdir(cwd)
    facts = json.loads((out / "facts.json").read_text())
    return {"page": out / "r.html", "json": json.loads((out / "r.json").read_text()),
            "groups": {h["host"]: h["facts"]["groups"] for h in facts["hosts"]}}


def test_prod_report_in_chromium(browser: Any, prod: dict[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    started = time.monotonic()
    report, groups = prod["json"], prod["groups"]
    findings, summary = report["findings"], report["summary"]
    _load(browser, prod["page"])
    assert _errors(browser) == []
    assert browser.title == "mlflow-policy report: FAILED"

    # the counts are the JSON report's
    for key, want in [*summary["findings"].items(), ("waived", summary["waived"]),
                      ("skipped", summary["skipped"]), ("hosts", summary["hosts"]),
                      ("rules", summary["rules"]),
                      ("unmatched", len(summary["unmatched_rules"]))]:
        assert int(_text(browser, f"count-{key}")) == want, key
    assert _count(browser, "#matrix tbody tr") == summary["hosts"] == len(groups)
    assert _count(browser, "#matrix td.s-f") == len(_pairs(findings))
    assert _count(browser, "#matrix td.s-s") == summary["skipped"]
    assert int(_text(browser, "shown-fail")) == len(_pairs(findings))
    assert _count(browser, "#unmatched li") == len(summary["unmatched_rules"])

    # severity filter + failing only: just the warning pairs remain
    Select(browser.find_element(By.ID, "filter-severity")).select_by_value("warning")
    browser.find_element(By.ID, "filter-failing").click()
    warnings = _pairs(findings, severity="warning")
    assert warnings
    assert _count(browser, "#matrix td.s-f") == len(warnings)
    assert _count(browser, "#matrix tbody tr") == len({p[1:] for p in warnings})
    shown_rules = {th.get_attribute("data-rule")
                   for th in browser.find_elements(By.CSS_SELECTOR, "#matrix th.rule")}
    assert shown_rules == {p[0] for p in warnings}

    # a group (a team): its hosts, as `facts` lists their groups
    browser.find_element(By.ID, "filter-reset").click()
    Select(browser.find_element(By.ID, "filter-group")).select_by_value("team_nlp")
    team = {h for h, g in groups.items() if "team_nlp" in g}
    assert len(team) >= 2
    assert {tr.get_attribute("data-host") for tr in
            browser.find_elements(By.CSS_SELECTOR, "#matrix tbody tr")} == team
    assert _count(browser, "#matrix td.s-f") == len(
        {p for p in _pairs(findings) if p[2] in team})
    Select(browser.find_element(By.ID, "filter-inventory")).select_by_value("prod")
    assert _count(browser, "#matrix tbody tr") == len(team)

    # a rule filter typed in; the filters are in the URL fragment and survive a reload
    box = browser.find_element(By.ID, "filter-rule")
    box.send_keys("tracking-uri")
    ids = [th.get_attribute("data-rule")
           for th in browser.find_elements(By.CSS_SELECTOR, "#matrix th.rule")]
    assert ids
    assert all("tracking-uri" in i for i in ids)
    fragment = browser.execute_script("return location.hash")
    assert "group=team_nlp" in fragment
    assert "rule=tracking-uri" in fragment
    _load(browser, prod["page"], fragment)
    assert browser.find_element(By.ID, "filter-group").get_attribute("value") == "team_nlp"
    assert _count(browser, "#matrix th.rule") == len(ids)

    # a failing cell opens its findings: path:line, message, expected and actual
    browser.find_element(By.ID, "filter-reset").click()
    cell = browser.find_elements(By.CSS_SELECTOR, "#matrix td.s-f")[0]
    row = cell.find_element(By.XPATH, "..")
    column = int(browser.execute_script("return arguments[0].cellIndex", cell))
    rule = browser.find_elements(By.CSS_SELECTOR, "#matrix th.rule")[column - 1] \
        .get_attribute("data-rule")
    host, inventory = row.get_attribute("data-host"), row.get_attribute("data-inv")
    cell.click()
    detail = browser.find_element(By.ID, "detail")
    assert detail.is_displayed()
    want = [f for f in findings if (f["rule"], f["inventory"], f["host"]) ==
            (rule, inventory, host)]
    assert want
    cards = detail.find_elements(By.CSS_SELECTOR, "#detail-findings article.finding")
    assert len(cards) == len(want)
    for card, f in zip(cards, want, strict=True):
        loc = f["location"]
        assert card.find_element(By.CSS_SELECTOR, ".loc").text == f"{loc['path']}:{loc['line']}"
        assert card.find_element(By.CSS_SELECTOR, ".msg").text == f["message"]
        assert card.find_element(By.CSS_SELECTOR, ".expected").text == f["expected"]
        assert json.loads(card.find_element(By.CSS_SELECTOR, ".actual").text) == f["actual"]
    shot = tmp_path / "prod-report.png"
    assert browser.save_screenshot(str(shot))
    colours = png_colours(shot)
    assert colours > 20, f"{shot}: {colours} colours, a blank page?"
    browser.find_element(By.ID, "detail-close").click()
    assert not detail.is_displayed()
    assert _errors(browser) == []
    print(f"\nscreenshot: {shot} ({colours} colours); "
          f"{time.monotonic() - started:.1f} s in the browser")


def test_hostile_names_render_as_text(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_result(), ReportOptions()))
    _load(browser, page)
    assert _errors(browser) == []
    assert browser.title == "mlflow-policy report: FAILED"  # no onerror rewrote it
    assert _count(browser, "img") == 0
    assert _count(browser, "script") == 2  # the data and the page's own script
    host = browser.execute_script(
        "return document.querySelector('#matrix tbody th.host').textContent")
    assert "<img src=x onerror=" in host
    assert "\\u2028" in host  # a line separator is shown as its escape
    browser.execute_script("document.querySelector('#matrix td.s-f').click()")
    msg = browser.execute_script("return document.querySelector('#detail .msg').textContent")
    assert EVIL.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") in msg
    link = browser.execute_script("return document.querySelectorAll('#detail a').length")
    assert link == 1  # the https reference; the javascript: one stays text


def test_live_cell_sets_declared_beside_observed(browser: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.chdir(LIVE)
    page = tmp_path / "live.html"
    assert main(["check", "--facts", "results", "-i", "inv", "-p", "policies",
                 "--format", f"html={page}"]) == 1
    _load(browser, page)
    assert _errors(browser) == []
    assert _count(browser, "#matrix tr[data-host=gone] td.s-u") == 1  # its rule's cell
    assert _count(browser, "#matrix tr.down") == 1
    browser.find_element(By.CSS_SELECTOR, "#matrix tr[data-host=srv] td.s-f").click()
    sides = browser.find_elements(By.CSS_SELECTOR, "#detail table.sides tbody td code")
    assert [s.text for s in sides] == ['"postgresql://mlflow:***@db/mlflow"',
                                       '"postgresql://mlflow:***@db2/mlflow"']
    assert "Pw-Secret-1" not in browser.page_source


def test_thousand_host_fleet_renders(browser: Any, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    from tests.gen_inventory import realistic_fleet, write_inventory

    written = write_inventory(realistic_fleet(1000, seed=1000), tmp_path / "fleet")
    page, js = tmp_path / "fleet.html", tmp_path / "fleet.json"
    monkeypatch.chdir(REPO)
    main(["check", "-i", str(written.inventory_dir), "-p", "policies",
          "--format", f"html={page}", "--format", f"json={js}"])
    report = json.loads(js.read_text())
    seconds = _load(browser, page)
    assert _errors(browser) == []
    assert report["summary"]["hosts"] == 1000
    assert int(_text(browser, "count-error")) == report["summary"]["findings"]["error"]
    assert int(_text(browser, "shown-hosts")) == 1000
    assert int(_text(browser, "shown-fail")) == len(_pairs(report["findings"]))
    assert seconds < PAGE_TIMEOUT
    # drawn a page of hosts at a time: page through, every host and failing cell once
    hosts: list[str] = []
    failing = 0
    while True:
        hosts += browser.execute_script(
            "return Array.from(document.querySelectorAll('#matrix tbody tr'), "
            "function (tr) { return tr.dataset.host; })")
        failing += _count(browser, "#matrix td.s-f")
        following = browser.find_element(By.ID, "pager-next")
        if not following.is_enabled():
            break
        following.click()
    assert len(hosts) == len(set(hosts)) == 1000
    assert failing == len(_pairs(report["findings"]))
    print(f"\n1,000 hosts: {page.stat().st_size // 1024} KiB, drawn in {seconds:.1f} s")
