"""Headless Chromium (Debian's, driven by Playwright) for the web pages' browser tests.

Launch with ``executable_path=/usr/bin/chromium`` (never ``playwright install``: no browser
download). Every page a test opens records console errors (a Content-Security-Policy violation is
one) and uncaught exceptions; `check_page` runs axe-core (vendored under tests/web/vendor, loaded
as an init script) for WCAG 2.1 A/AA and fails on any violation,
and screenshots go to ``test-artefacts/`` at phone (390 px) and desktop width.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

CHROMIUM: Final = Path(os.environ.get("INDEKLIMA_CHROMIUM", "/usr/bin/chromium"))
ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE: Final = Path(__file__).parent / "web" / "vendor" / "axe-core" / "axe.min.js"
ARTEFACTS: Final = Path(__file__).resolve().parent.parent / "test-artefacts"
PHONE: Final = {"width": 390, "height": 844}
DESKTOP: Final = {"width": 1280, "height": 900}
AXE_TAGS: Final = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (Makefile DEBS)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A browser context (own cookies) and its page, with what went wrong in it."""

    context: Any
    page: Any
    base_url: str
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def close(self) -> None:
        self.context.close()


def open_tab(browser: Any, base_url: str, *, viewport: dict[str, int] = DESKTOP) -> Tab:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    # axe-core arrives as an init script (DevTools' own channel): the pages' Content-Security-
    # Policy stays in force for everything else, so a page that broke it would show here
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    tab = Tab(context, page, base_url)

    def on_console(message: Any) -> None:
        if message.type == "error":
            tab.problems.append(f"console error on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: tab.problems.append(f"page error on {page.url}: {exc}"))
    return tab


def axe_violations(page: Any) -> list[dict[str, Any]]:
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"][:5]],
            }
            for v in violations
        ],
        indent=1,
        ensure_ascii=False,
    )


def check_page(tab: Tab, name: str) -> None:
    """No console errors so far, no axe violations, and screenshots at both widths."""
    page = tab.page
    page.wait_for_load_state("load")
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{describe(violations)}"
    ARTEFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(ARTEFACTS / f"{name}-{label}.png"), full_page=True)
        if label == "phone":
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{page.url} is {overflow} px wider than a 390 px phone"
    page.set_viewport_size(size)
    assert not tab.problems, "\n".join(tab.problems)
