"""No takeover by a claimed e-mail address (issue 27, item 1): a partner's sign-in links an identity to an account by a
verified e-mail address only within the issuer's own domains and only for agency staff; an admin's, Executive's or
any other case-running account is never taken by claiming its address, from this issuer or another."""

from __future__ import annotations

from sqlmodel import Session, select

from records.models import User, UserIdentity
from service.accounts.identities import user_for_identity
from service.platform.settings import OidcIssuer

POLICE = OidcIssuer(name="police", label="Constabulary", discovery_url="https://login.police.example/.well-known",
                    client_id="rapid-review", link_verified_email=True, link_email_domains=["example.org"])
ELSEWHERE = POLICE.model_copy(update={"name": "elsewhere", "link_email_domains": ["elsewhere.example"]})


def signed_in(engine, settings, issuer: OidcIssuer, subject: str, email: str) -> User | None:
    settings = settings.model_copy(update={"oidc_issuers": [POLICE, ELSEWHERE]})
    with Session(engine, expire_on_commit=False) as session:
        user = user_for_identity(session, settings=settings, issuer=issuer, audit_key=settings.audit_key_bytes,
                                 claims={"sub": subject, "email": email, "email_verified": True})
        session.commit()
        return user


def links(engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(row.issuer, row.subject) for row in session.exec(select(UserIdentity))]


def test_a_claimed_address_never_becomes_an_admin_or_an_executive(engine, settings, demo_passwords):
    for subject, email in (("mallory-1", "exec.la@example.org"), ("mallory-2", "admin@example.org"),
                           ("mallory-3", "auditor@example.org"), ("mallory-4", "panel.chair@example.org")):
        assert signed_in(engine, settings, POLICE, subject, email) is None, f"{email} was taken by a claim"
    # Another organisation's issuer, claiming an agency member's address in this partnership's domain: refused too.
    assert signed_in(engine, settings, ELSEWHERE, "mallory-5", "agency.police@example.org") is None
    assert links(engine) == [], "no identity was linked"
    # The agency's own member, in the issuer's own domain: linked, and the link is kept for the next sign-in.
    kim = signed_in(engine, settings, POLICE, "kim-at-police", "agency.police@example.org")
    assert kim is not None and kim.username == "agency.police"
    assert links(engine) == [("police", "kim-at-police")]
    assert signed_in(engine, settings, POLICE, "kim-at-police", "changed@elsewhere.example").username == "agency.police"
