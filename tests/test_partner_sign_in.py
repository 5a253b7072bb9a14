"""Signing in with a partner's own organisation, end to end in Chromium against real OpenID Connect providers
(oidc-provider-mock, started here on loopback): two partner issuers at once, sign-in and sign-out, and each
refusal (unknown subject, unknown tenant, replayed nonce, expired token, forged callback) shown as a page and
audited. The provider cannot issue a token for another audience or signed by another key, so those two are
checked on the callback's own verification function with tokens signed by a key the test makes."""

import asyncio
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread
from playwright.async_api import expect
from sqlmodel import Session, select

from records.models import AuditEvent, UserIdentity
from service.accounts.oidc import SignInRefused, verify_id_token
from service.app import create_app
from service.cli import main as cli
from service.platform.runner import free_port
from service.platform.settings import OidcIssuer
from tests.conftest import make_settings
from tests.test_web import browser  # noqa: F401 - the Chromium fixture

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
COUNTY_TENANT = "3f6a1c2e-county"
PEOPLE = (
    ProviderUser(sub="alex-at-county", claims={"tid": COUNTY_TENANT, "name": "Alex Morgan"}),
    ProviderUser(sub="stranger-at-county", claims={"tid": COUNTY_TENANT, "name": "Alex Morgan"}),
    ProviderUser(sub="alex-elsewhere", claims={"tid": "another-tenant", "name": "Alex Morgan"}),
    ProviderUser(sub="kim-at-police", claims={"email": "agency.police@example.org", "email_verified": True}),
)


@pytest.fixture
def providers():
    """Three issuers on loopback: the county's (one Entra-style tenant allowed), the police's (links a verified
    e-mail on first sign-in) and one whose tokens are issued already expired."""
    with (run_server_in_thread(user_claims=PEOPLE) as county, run_server_in_thread(user_claims=PEOPLE) as police,
          run_server_in_thread(user_claims=PEOPLE, access_token_max_age=timedelta(hours=-1)) as stale):
        yield {name: f"http://localhost:{server.server_port}" for name, server in
               (("county", county), ("police", police), ("stale", stale))}


def issuers_setting(providers) -> list[dict]:
    def one(name, label, **extra):
        return {"name": name, "label": label, "client_id": f"rapid-review-{name}", "client_secret": "s3cret",
                "discovery_url": f"{providers[name]}/.well-known/openid-configuration", **extra}

    return [one("county", "County Council", allowed_tenant_ids=[COUNTY_TENANT]),
            one("police", "Constabulary", link_verified_email=True, link_email_domains=["example.org"]),
            one("stale", "Stale Trust")]


@pytest.fixture
async def partner_site(tmp_path, providers, monkeypatch):
    """The service on a loopback port with the three issuers configured (as OIDC_ISSUERS, JSON), the demo users,
    and the county's Alex linked to the panel chair by the admin's command."""
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'test.db'}"
    issuers = json.dumps(issuers_setting(providers))
    monkeypatch.setenv("OIDC_ISSUERS", issuers)
    settings = make_settings(tmp_path, database_url, rapid_review_public_url=f"http://127.0.0.1:{port}")
    from records.db import make_engine, session_scope, upgrade
    from service.accounts.users import create_demo_users, ensure_partnership

    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    with session_scope(engine) as session:
        ensure_partnership(session, "Test partnership")
        create_demo_users(session, settings.audit_key_bytes)
    for name, value in (("DATABASE_URL", database_url), ("RAPID_REVIEW_VAR_DIR", str(tmp_path / "var")),
                        ("SECRET_KEY", settings.secret_key), ("RAPID_REVIEW_ENCRYPTION_KEY",
                                                              settings.rapid_review_encryption_key)):
        monkeypatch.setenv(name, value)
    assert cli(["users", "link-identity", "panel.chair", "--issuer", "county", "--subject", "alex-at-county"]) == 0
    assert cli(["users", "link-identity", "csc.lead", "--issuer", "county", "--subject", "alex-at-county"]) == 2
    assert cli(["users", "link-identity", "csc.lead", "--issuer", "nowhere", "--subject", "x"]) == 2
    assert cli(["users", "link-identity", "panel.chair", "--issuer", "stale", "--subject", "alex-at-county"]) == 0
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        await serving
        engine.dispose()


async def sign_in_with(browser, site: str, label: str, subject: str, tamper=None):  # noqa: F811
    """Choose the organisation on our sign-in page, then the person at the provider's own page (``tamper``
    handles the approval posted to the provider: a redirect's target cannot be intercepted)."""
    context = await browser.new_context(base_url=site)
    page = await context.new_page()
    if tamper:
        await page.route("**/oauth2/authorize?*", tamper)
    await page.goto("/signin")
    await page.get_by_role("link", name=f"Sign in with {label}").click()
    await page.locator("input[name=sub]").fill(subject)
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(f"{site}/**")
    return page


def refusals(engine) -> list[dict]:
    with Session(engine) as session:
        return [json.loads(row.detail) if isinstance(row.detail, str) else row.detail for row in session.exec(
            select(AuditEvent).where(AuditEvent.action == "oidc_sign_in_refused").order_by(AuditEvent.id))]


async def test_partner_staff_sign_in_with_their_own_organisation(partner_site, browser):  # noqa: F811
    site, engine = partner_site

    async def note_authorization(route):
        authorizations.append(route.request.url)
        await route.continue_()

    authorizations = []
    page = await sign_in_with(browser, site, "County Council", "alex-at-county", tamper=note_authorization)
    await expect(page.get_by_role("heading", name="Case board")).to_be_visible()
    query = parse_qs(urlsplit(authorizations[0]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43, "PKCE"
    assert query["client_id"] == ["rapid-review-county"] and query["nonce"] and query["state"]
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    with Session(engine) as session:
        signed_in = session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in")).all()
        assert signed_in[-1].actor_role == "panel_chair" and "county" in str(signed_in[-1].detail)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    await page.goto("/board")
    await expect(page).to_have_url(f"{site}/signin")  # the service's session is gone

    # A second issuer at the same time; its verified e-mail links the police member on first sign-in, once.
    page = await sign_in_with(browser, site, "Constabulary", "kim-at-police")
    await expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    with Session(engine) as session:
        link = session.exec(select(UserIdentity).where(UserIdentity.issuer == "police")).one()
        assert link.subject == "kim-at-police" and link.last_used_at is not None
    assert refusals(engine) == []


async def test_each_refusal_is_a_clear_page_and_audited(partner_site, browser):  # noqa: F811
    site, engine = partner_site

    page = await sign_in_with(browser, site, "County Council", "stranger-at-county")
    await expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("nobody here has linked that account")
    assert (await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})).violations_count == 0

    page = await sign_in_with(browser, site, "County Council", "alex-elsewhere")
    await expect(page.get_by_role("alert")).to_contain_text("directory is not one this service accepts")

    async def replace_nonce(route):
        """An injected authorization request: the person approves one that carries another nonce."""
        parts = urlsplit(route.request.url)
        query = parse_qs(parts.query) | {"nonce": ["injected"]}
        await route.continue_(url=urlunsplit(parts._replace(query=urlencode(query, doseq=True))))

    page = await sign_in_with(browser, site, "County Council", "alex-at-county", tamper=replace_nonce)
    await expect(page.get_by_role("alert")).to_contain_text("does not belong to this browser's attempt")

    page = await sign_in_with(browser, site, "Stale Trust", "alex-at-county")
    await expect(page.get_by_role("alert")).to_contain_text("had expired")

    await page.goto("/signin/oidc/county/callback?code=forged&state=forged")
    await expect(page.get_by_role("alert")).to_contain_text("did not start a sign-in here")

    reasons = [(row["issuer"], row["reason"], row.get("subject"), row.get("tenant")) for row in refusals(engine)]
    assert reasons == [("county", "unknown_identity", "stranger-at-county", COUNTY_TENANT),
                       ("county", "unknown_tenant", "alex-elsewhere", "another-tenant"),
                       ("county", "wrong_nonce", "alex-at-county", COUNTY_TENANT),
                       ("stale", "expired_token", "alex-at-county", None),
                       ("county", "no_sign_in_started", None, None)]
    with Session(engine) as session:
        assert not session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in")).all()


async def test_sign_in_page_offers_each_organisation_and_passes_axe(partner_site, browser):  # noqa: F811
    site, _ = partner_site
    page = await (await browser.new_context(base_url=site)).new_page()
    await page.goto("/signin")
    for label in ("County Council", "Constabulary", "Stale Trust"):
        await expect(page.get_by_role("link", name=f"Sign in with {label}")).to_be_visible()
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    assert results.violations_count == 0, results.generate_report()


def signed_token(key: RSAKey, **claims) -> str:
    now = int(time.time())
    body = {"iss": "https://issuer.example", "sub": "alex", "aud": "rapid-review-county", "iat": now,
            "exp": now + 300, "nonce": "n-1", "tid": COUNTY_TENANT, **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def test_tokens_for_another_service_or_signed_by_another_key_are_refused():
    """What the provider cannot produce: the callback's verification with tokens from a key made here."""
    key, stranger = RSAKey.generate_key(2048, auto_kid=True), RSAKey.generate_key(2048, auto_kid=True)
    jwks = KeySet([key]).as_dict(private=False)
    issuer = OidcIssuer(name="county", label="County Council", discovery_url="https://issuer.example/.well-known",
                        client_id="rapid-review-county", allowed_tenant_ids=[COUNTY_TENANT])
    metadata = {"issuer": "https://issuer.example"}

    def reason(token: str, metadata: dict = metadata, issuer: OidcIssuer = issuer) -> str:
        with pytest.raises(SignInRefused) as refusal:
            verify_id_token(token, issuer=issuer, metadata=metadata, jwks=jwks, nonce="n-1")
        return refusal.value.reason

    assert verify_id_token(signed_token(key), issuer=issuer, metadata=metadata, jwks=jwks, nonce="n-1")["sub"] == "alex"
    assert reason(signed_token(key, aud="another-service")) == "wrong_audience"
    assert reason(signed_token(key, aud=["another-service", "rapid-review-county"], azp="another-service")
                  ) == "wrong_audience"
    assert reason(signed_token(stranger)) == "bad_signature"
    assert reason(signed_token(key, iss="https://attacker.example")) == "wrong_issuer"
    assert reason(signed_token(key, nonce="n-2")) == "wrong_nonce"
    assert reason(signed_token(key, exp=int(time.time()) - 3600)) == "expired_token"
    assert reason(signed_token(key, tid="another-tenant")) == "unknown_tenant"
    # Entra ID's multi-tenant discovery document names its issuer with a placeholder for the tenant.
    entra = {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    token = signed_token(key, iss=f"https://login.microsoftonline.com/{COUNTY_TENANT}/v2.0")
    assert verify_id_token(token, issuer=issuer, metadata=entra, jwks=jwks, nonce="n-1")["tid"] == COUNTY_TENANT
    elsewhere = signed_token(key, iss="https://login.microsoftonline.com/another-tenant/v2.0", tid="another-tenant")
    assert reason(elsewhere, metadata=entra) == "unknown_tenant"
    open_to_all = issuer.model_copy(update={"allowed_tenant_ids": []})  # multi-tenant with no list: nobody
    assert reason(token, metadata=entra, issuer=open_to_all) == "unknown_tenant"
