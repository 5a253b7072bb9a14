"""Every page a person can open, checked with axe-core (WCAG 2.2 AA tags) in Chromium, with no raw code, JSON or ISO
date in its words: the pages the walk (test_web.py) and the pages around the cases (test_web_pages.py) do not
already visit, each as the role that uses it, at desktop width, at 200 % zoom and at 320 px. The test prints the
list it visited."""

import pytest
from playwright.async_api import expect

from tests import test_web, test_web_pages

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as  # one service, one browser
check_page = test_web_pages.check_page

PAGES_BY_USER = {
    "strategy.manager": ["/board", "/cases/new", "/action-plan", "/themes", "/escalations", "/dashboard",
                         "/admin/calendar", "/account", "/tasks", "/panels", "/workload",
                         "/review-types/safeguarding_adults_review/new"],
    "agency.education": ["/tasks", "/referrals", "/action-plan", "/escalations", "/account"],
    "exec.la": ["/tasks", "/board", "/dashboard"],
    "auditor": ["/audit", "/board", "/cases", "/themes"],
    "admin": ["/outbox", "/admin/users", "/admin/calendar", "/account"],
}
PUBLIC_PAGES = ["/signin", "/accessibility"]
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not the database


async def test_every_page_passes_axe_at_desktop_200_percent_zoom_and_320_px(sign_in_as, browser, site):
    visited = []
    anonymous = await (await browser.new_context(base_url=site)).new_page()
    for path in PUBLIC_PAGES:
        answer = await anonymous.goto(path)
        assert answer.status == 200, path
        visited.append(f"anyone: {await check_each_width(anonymous, 'a11y-anonymous' + path.replace('/', '-'))}")
    await expect(anonymous.get_by_role("link", name="Accessibility statement")).to_be_visible()
    await anonymous.goto("/accessibility")
    await expect(anonymous.get_by_role("heading", name="Enforcement procedure")).to_be_visible()

    for username, paths in PAGES_BY_USER.items():
        page = await sign_in_as(username)
        for path in paths:
            answer = await page.goto(path)
            assert answer.status == 200, f"{username} {path}: {answer.status}"
            shot = f"a11y-{username.replace('.', '-')}{path.replace('/', '-')}"
            visited.append(f"{username}: {await check_each_width(page, shot)}")
    print("\naxe (WCAG 2.2 AA) found no violation on:\n" + "\n".join(visited))


async def check_each_width(page, name: str) -> str:
    """Desktop, then 640 px (a 1280 px screen at 200 % zoom) and 320 px: axe at each, and no sideways scrolling."""
    await check_page(page, name)
    for width, height, label in ((640, 900, "200pc-zoom"), (320, 800, "320px")):
        await page.set_viewport_size({"width": width, "height": height})
        await check_page(page, f"{name}-{label}")
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} scrolls sideways at {width} px ({wide} px)"
    await page.set_viewport_size(test_web.DESKTOP)
    return f"{page.url} (and at 200 % zoom and 320 px)"
