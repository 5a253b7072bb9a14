"""A second factor for local accounts (RAPID_REVIEW_REQUIRE_MFA on): enrolment and sign-in in Chromium, recovery
codes used once, the API's token and session routes, the admin's reset; every refusal audited."""

import asyncio
import re
import time

import pyotp
import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from fastapi.testclient import TestClient
from playwright.async_api import expect
from sqlmodel import Session, select

from records.db import session_scope
from records.models import AuditEvent, RecoveryCode, User, UserMfa
from service.accounts.mfa import reset_mfa
from service.app import create_app
from service.platform.runner import free_port
from tests.conftest import make_settings
from tests.test_web import browser  # noqa: F401 - the Chromium fixture

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def mfa_settings(tmp_path):
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'test.db'}", rapid_review_require_mfa=True)


@pytest.fixture
def mfa_engine(mfa_settings):
    from records.db import make_engine, upgrade

    engine = make_engine(mfa_settings.sqlalchemy_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def mfa_passwords(mfa_engine, mfa_settings):
    from service.accounts.users import create_demo_users, ensure_partnership

    with session_scope(mfa_engine) as session:
        ensure_partnership(session, "Test partnership")
        return create_demo_users(session, mfa_settings.audit_key_bytes)


@pytest.fixture
async def mfa_site(mfa_settings, mfa_engine, mfa_passwords):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(mfa_settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def password_step(browser, site, username, password):  # noqa: F811
    page = await (await browser.new_context(base_url=site)).new_page()
    await page.goto("/signin")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


def audited(engine, action: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


async def test_enrol_then_every_sign_in_needs_the_code(mfa_site, browser, mfa_passwords, mfa_engine):  # noqa: F811
    password = mfa_passwords["panel.chair"]
    page = await password_step(browser, mfa_site, "panel.chair", password)
    await expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    assert (await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})).violations_count == 0
    secret = await page.get_by_test_id("totp-secret").inner_text()
    assert (await page.get_by_test_id("totp-uri").inner_text()).startswith("otpauth://totp/")
    await page.get_by_label("Code from your authenticator app").fill("000000" if pyotp.TOTP(secret).now() != "000000"
                                                                     else "111111")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("alert")).to_contain_text("The code is not right")
    await page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert audited(mfa_engine, "mfa_enrol_failed") == 1 and audited(mfa_engine, "mfa_enrolled") == 1
    recovery = [code.strip() for code in await page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()]
    assert len(recovery) == 10
    assert (await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})).violations_count == 0
    await page.get_by_role("link", name="Continue").click()
    await expect(page.get_by_role("heading", name="Case board")).to_be_visible()

    # The password alone no longer signs in: a wrong code is refused on the page, with an error summary linked to
    # the field, and audited.
    page = await password_step(browser, mfa_site, "panel.chair", password)
    await expect(page.get_by_role("heading", name="Your one-time code")).to_be_visible()
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("alert")).to_contain_text("Enter the code")
    await page.get_by_label("Code from your authenticator app").fill("12345678")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("alert")).to_contain_text("The code is not right")
    await page.get_by_role("alert").get_by_role("link").click()
    await expect(page.get_by_label("Code from your authenticator app")).to_be_focused()
    assert (await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})).violations_count == 0
    await page.goto("/board")
    await expect(page).to_have_url(f"{mfa_site}/signin")
    assert audited(mfa_engine, "mfa_failed") == 1

    # A recovery code works once.
    for attempt in range(2):
        page = await password_step(browser, mfa_site, "panel.chair", password)
        await page.get_by_label("Code from your authenticator app").fill(recovery[0])
        await page.get_by_role("button", name="Continue").click()
        if attempt == 0:
            await expect(page.get_by_role("heading", name="Case board")).to_be_visible()
        else:
            await expect(page.get_by_role("alert")).to_contain_text("The code is not right")
    assert audited(mfa_engine, "mfa_recovery_code_used") == 1
    assert audited(mfa_engine, "mfa_failed") == 2

    # The next step's code (the service allows one step of clock drift), as the app will show it shortly.
    page = await password_step(browser, mfa_site, "panel.chair", password)
    await page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).at(time.time() + 30))
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Case board")).to_be_visible()

    # The admin (who resets passwords and changes roles) enrols too, then reaches the outbox (Notify receipts).
    admin = await password_step(browser, mfa_site, "admin", mfa_passwords["admin"])
    await expect(admin.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    admin_secret = await admin.get_by_test_id("totp-secret").inner_text()
    await admin.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(admin_secret).now())
    await admin.get_by_role("button", name="Confirm").click()
    await admin.get_by_role("link", name="Continue").click()
    await expect(admin.get_by_role("heading", name="Outbox")).to_be_visible()
    assert (await Axe().run(admin, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})).violations_count == 0


def test_api_clients_send_the_code_and_an_admin_can_reset(mfa_settings, mfa_engine, mfa_passwords):
    secret = pyotp.random_base32()
    from service.accounts.mfa import (
        _seal,  # the enrolment pages are tested above; here the account is enrolled directly
    )

    with session_scope(mfa_engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
        session.add(UserMfa(user_id=chair.id, secret_encrypted=_seal(mfa_settings.secret_key, chair.id, secret),
                            confirmed_at=chair.created_at))
    with TestClient(create_app(mfa_settings)) as client:
        form = {"username": "panel.chair", "password": mfa_passwords["panel.chair"]}
        missing = client.post("/api/auth/token", data=form)
        assert missing.status_code == 401 and "code" in missing.json()["detail"]
        wrong = client.post("/api/auth/token", data=form | {"otp": "000001"})
        assert wrong.status_code == 401
        code = pyotp.TOTP(secret).now()
        good = client.post("/api/auth/token", data=form | {"otp": code})
        assert good.status_code == 200, good.text
        replayed = client.post("/api/auth/token", data=form | {"otp": code})
        assert replayed.status_code == 401, "a code works once"
        headers = {"Authorization": f"Bearer {good.json()['access_token']}"}
        assert client.get("/api/me", headers=headers).json()["username"] == "panel.chair"

        # A role that reads case content, or the admin who manages accounts, not enrolled: told to enrol on the page.
        for username in ("csc.lead", "admin"):
            refused = client.post("/api/auth/token", data={"username": username, "password": mfa_passwords[username]})
            assert refused.status_code == 403 and "/signin" in refused.json()["detail"], username

        with session_scope(mfa_engine) as session:
            chair = session.exec(select(User).where(User.username == "panel.chair")).one()
            reset_mfa(session, user=chair, by=None, audit_key=mfa_settings.audit_key_bytes)
        assert client.get("/api/me", headers=headers).status_code == 401, "the reset ended the chair's sessions"
        again = client.post("/api/auth/token", data=form | {"otp": pyotp.TOTP(secret).now()})
        assert again.status_code == 403, "after a reset the chair enrols again"
    with Session(mfa_engine) as session:
        assert session.exec(select(RecoveryCode)).all() == []
        actions = [row.action for row in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("mfa_failed") == 3 and "mfa_reset" in actions


def test_demo_mode_needs_no_second_factor_by_default(settings, engine, demo_passwords):
    """Dev mode (the demo and the rest of this suite) signs in with passwords alone; production requires it."""
    assert settings.require_mfa is False
    assert settings.model_copy(update={"rapid_review_mode": "production"}).require_mfa is True
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/auth/token", data={"username": "panel.chair",
                                                         "password": demo_passwords["panel.chair"]})
        assert response.status_code == 200
        assert re.match(r"^[\w-]+$", response.json()["access_token"])


def test_secret_key_rotation_keeps_authenticators_working(mfa_settings, mfa_engine, mfa_passwords):
    """SECRET_KEY changes with the old one in RAPID_REVIEW_OLD_SECRET_KEYS: the chair's codes still work and her
    secret is sealed again under the new key. With the old key gone, she is told what to do (403), not a 500."""
    from service.accounts.mfa import _open, _seal

    secret, old_key, new_key = pyotp.random_base32(), mfa_settings.secret_key, "rotated-secret-key-" + "n" * 32
    with session_scope(mfa_engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
        session.add(UserMfa(user_id=chair.id, secret_encrypted=_seal(old_key, chair.id, secret),
                            confirmed_at=chair.created_at))
    form = {"username": "panel.chair", "password": mfa_passwords["panel.chair"]}
    rotated = mfa_settings.model_copy(update={"secret_key": new_key, "rapid_review_old_secret_keys": old_key})
    with TestClient(create_app(rotated)) as client:
        signed_in = client.post("/api/auth/token", data=form | {"otp": pyotp.TOTP(secret).now()})
        assert signed_in.status_code == 200, signed_in.text
    with Session(mfa_engine) as session:
        row = session.exec(select(UserMfa)).one()
        assert _open(new_key, row.user_id, row.secret_encrypted) == secret, "sealed again under the new key"

    lost = mfa_settings.model_copy(update={"secret_key": "another-secret-key-" + "z" * 32})
    with TestClient(create_app(lost), raise_server_exceptions=False) as client:
        refused = client.post("/api/auth/token", data=form | {"otp": pyotp.TOTP(secret).at(time.time() + 30)})
    assert refused.status_code == 403 and "reset your second factor" in refused.json()["detail"]


def test_nobody_can_plant_an_authenticator_for_the_owner_to_confirm(mfa_settings, mfa_engine, mfa_passwords):
    """An attacker who knows the password starts enrolment and keeps the setup key: the owner, signing in later, is
    shown a new secret of her own, and neither can confirm with the other's (issue 27, item 3)."""
    from service.accounts.mfa import confirm_enrolment, enrolment_secret, totp_keys

    keys, audit_key = totp_keys(mfa_settings), mfa_settings.audit_key_bytes
    with session_scope(mfa_engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
        planted = enrolment_secret(session, user=chair, secret_key=keys, bound_to="attacker's pending sign-in")
    with session_scope(mfa_engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
        own = enrolment_secret(session, user=chair, secret_key=keys, bound_to="owner's pending sign-in")
        assert own != planted, "the planted secret is never shown to the owner"
        again = enrolment_secret(session, user=chair, secret_key=keys, bound_to="owner's pending sign-in")
        assert again == own, "the owner's own page shows her the same secret until she confirms"
    with session_scope(mfa_engine) as session:
        chair = session.exec(select(User).where(User.username == "panel.chair")).one()
        for secret, bound_to in ((planted, "attacker's pending sign-in"), (own, "attacker's pending sign-in")):
            assert confirm_enrolment(session, user=chair, code=pyotp.TOTP(secret).now(), secret_key=keys,
                                     bound_to=bound_to, audit_key=audit_key) is None
        codes = confirm_enrolment(session, user=chair, code=pyotp.TOTP(own).now(), secret_key=keys,
                                  bound_to="owner's pending sign-in", audit_key=audit_key)
        assert codes and len(codes) == 10
    with TestClient(create_app(mfa_settings)) as client:  # confirmed: her code signs her in, from any browser
        form = {"username": "panel.chair", "password": mfa_passwords["panel.chair"]}
        assert client.post("/api/auth/token", data=form | {"otp": pyotp.TOTP(own).at(time.time() + 30)}
                           ).status_code == 200


def test_a_session_without_a_second_factor_ends_when_the_role_needs_one(mfa_settings, mfa_engine, mfa_passwords):
    """Opened while the setting was off (a password alone), the chair's token stops working once
    RAPID_REVIEW_REQUIRE_MFA is on: the session records that its sign-in passed no second factor (issue 27, item 4)."""
    relaxed = mfa_settings.model_copy(update={"rapid_review_require_mfa": False})
    with TestClient(create_app(relaxed)) as client:
        token = client.post("/api/auth/token", data={"username": "panel.chair",
                                                     "password": mfa_passwords["panel.chair"]})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert client.get("/api/me", headers=headers).status_code == 200
    with TestClient(create_app(mfa_settings)) as client:
        assert client.get("/api/me", headers=headers).status_code == 401
