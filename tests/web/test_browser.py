"""The dashboard end to end in Chromium: run a claim, then partition a live Raft leader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.web.conftest import shot

#: The fastest quick profile there is (a model evaluation, milliseconds).
QUICK_CLAIM = "design.regime_map"


def test_claims_page_runs_a_claim_and_shows_its_verdict(
    served: tuple[str, Path], page: Any
) -> None:
    base, results = served
    page.goto(base + "/")
    row = page.locator(f"tr[data-id='{QUICK_CLAIM}']")
    assert row.locator(".verdict").inner_text() == "not run"
    shot(page, "claims")
    row.locator("a").click()
    page.wait_for_url(f"**/claims/{QUICK_CLAIM}")
    with page.expect_navigation(timeout=20_000):  # the page reloads with the verdict
        page.click("#run")
    page.wait_for_selector("#result")
    verdict = page.locator("#verdict").inner_text()
    assert verdict in {"holds", "nuanced", "refuted"}
    assert QUICK_CLAIM in page.locator("#command").inner_text()
    shot(page, "claim")
    # the CLI's file: the same JSON `archlab run` writes
    saved = json.loads((results / f"{QUICK_CLAIM}.json").read_text())
    assert saved["verdict"] == verdict
    page.goto(base + "/")
    assert page.locator(f"tr[data-id='{QUICK_CLAIM}'] .verdict").inner_text() == verdict


def _leader(page: Any) -> str:
    text = page.locator("#clock").inner_text()
    return text.rsplit("leader ", 1)[1].strip()


def _cell(page: Any, address: str, name: str) -> str:
    return str(page.locator(f"#nodes tr[data-address='{address}'] td.{name}").inner_text())


def test_live_raft_partition_elects_a_new_leader_and_stays_linearizable(
    served: tuple[str, Path], page: Any
) -> None:
    base, _ = served
    page.goto(base + "/live?protocol=raft&seed=1&step=150")
    page.wait_for_function("document.querySelector('#clock').textContent.includes('step 150')")
    old = _leader(page)
    assert old.startswith("n")
    page.select_option("#op", "write")
    page.fill("#value", "3")
    page.click("#submit")
    page.wait_for_function("document.querySelector('#history').textContent.includes('queued')")
    page.click("#step")  # a client picks the command up
    page.wait_for_function("document.querySelector('#history').textContent.includes('invoke')")
    page.select_option("#target", old)
    page.click("button[data-act='isolate']")
    page.wait_for_selector(f"#cluster .node.cut[data-address='{old}']")
    page.select_option("#speed", "100")
    for _ in range(4):  # 400 steps = 0.8 s of virtual time: several election timeouts
        page.click("#step")
        page.wait_for_timeout(50)
    page.wait_for_function(
        f"(() => {{ const t = document.querySelector('#clock').textContent;"
        f" return t.includes('leader n') && !t.endsWith('leader {old}'); }})()"
    )
    new = _leader(page)
    assert new != old
    new_term = int(_cell(page, new, "term"))
    old_term = int(_cell(page, old, "term"))
    assert new_term > old_term  # the cut-off node never heard of the new term
    shot(page, "live-partitioned")
    page.click("button[data-act='heal']")
    page.select_option("#op", "read")
    page.click("#submit")
    for _ in range(3):
        page.click("#step")
        page.wait_for_timeout(50)
    page.wait_for_function(
        f"document.querySelector('#nodes tr[data-address=\"{old}\"] td.term')"
        f".textContent === '{new_term}'"
    )
    page.click("#check")
    page.wait_for_function("document.querySelector('#verdict-live').textContent.includes('linear')")
    assert page.locator("#verdict-live").inner_text().startswith("linearizable")
    assert "actions=" in page.url and "isolate" in page.url
    assert page.locator("#command").inner_text().startswith("archlab live raft --seed 1")
    shot(page, "live-healed")
    page.keyboard.press("t")  # the other theme
    shot(page, "live-dark")
