"""Every page a person can open, checked with axe-core (WCAG 2.2 AA tags) in Chromium, with no raw code, JSON or ISO
date in its words: the pages the walk (test_web.py) and the pages around the cases (test_web_pages.py) do not
already visit, each as the role that uses it, at desktop width and at 320 px. The test prints the list it visited."""

import pytest
from playwright.async_api import expect

from tests import test_web, test_web_pages

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # one service, one browser
check_page = test_web_pages.check_page

PAGES_BY_USER = {
    "strategy.manager": ["/board", "/cases/new", "/action-plan", "/themes", "/escalations", "/dashboard",
                         "/admin/calendar", "/account", "/tasks"],
    "agency.education": ["/tasks", "/action-plan", "/escalations", "/account"],
    "exec.la": ["/tasks", "/board", "/dashboard"],
    "auditor": ["/audit", "/board", "/themes"],
    "admin": ["/outbox", "/admin/users", "/admin/calendar", "/account"],
}
PUBLIC_PAGES = ["/signin", "/accessibility"]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not the database


async def test_every_page_passes_axe_at_desktop_and_320_px(sign_in_as, browser, site):
    visited = []
    anonymous = await (await browser.new_context(base_url=site)).new_page()
    for path in PUBLIC_PAGES:
        answer = await anonymous.goto(path)
        assert answer.status == 200, path
        visited.append(await check_each_width(anonymous, f"a11y-anonymous{path.replace('/', '-')}"))
    await expect(anonymous.get_by_role("link", name="Accessibility statement")).to_be_visible()
    await anonymous.goto("/accessibility")
    await expect(anonymous.get_by_role("heading", name="Enforcement procedure")).to_be_visible()

    for username, paths in PAGES_BY_USER.items():
        page = await sign_in_as(username)
        for path in paths:
            answer = await page.goto(path)
            assert answer.status == 200, f"{username} {path}: {answer.status}"
            visited.append(await check_each_width(page, f"a11y-{username.replace('.', '-')}{path.replace('/', '-')}"))
    print("\naxe (WCAG 2.2 AA) found no violation on:\n" + "\n".join(visited))


async def check_each_width(page, name: str) -> str:
    await check_page(page, name)
    await page.set_viewport_size({"width": 320, "height": 800})
    await check_page(page, f"{name}-320px")
    wide = await page.evaluate("document.documentElement.scrollWidth")
    await page.set_viewport_size(test_web.DESKTOP)
    assert wide <= 320, f"{name} scrolls sideways at 320 px ({wide} px)"
    return f"{page.url} (and at 320 px)"
