"""Which user a partner's verified identity is: links from (issuer, subject) to a user, made by an admin (the
`rapid-review users link-identity` command) or, where an issuer's settings allow, on a first sign-in by an e-mail
address that issuer verified. Never by a display name; every link and unlink is audited."""

from __future__ import annotations

from sqlmodel import Session, select

from records.models import User, UserIdentity, utcnow
from service.accounts.roles import E_MAIL_LINKABLE
from service.accounts.users import AccountError, find_user, record_account_change
from service.platform.settings import OidcIssuer, Settings


def link_identity(session: Session, *, settings: Settings, username: str, issuer: str, subject: str,
                  by: User | None, audit_key: bytes, how: str = "admin") -> UserIdentity:
    """Link the issuer's subject to the user (the caller commits)."""
    if settings.oidc_issuer(issuer) is None:
        known = ", ".join(i.name for i in settings.oidc_issuers) or "none are configured (OIDC_ISSUERS)"
        raise AccountError(f"unknown issuer {issuer!r}; issuers: {known}")
    if not subject.strip() or len(subject) > 255:
        raise AccountError("the subject must be 1 to 255 characters")
    user = find_user(session, username)
    existing = session.exec(select(UserIdentity).where(UserIdentity.issuer == issuer,
                                                       UserIdentity.subject == subject)).first()
    if existing is not None:
        owner = session.get(User, existing.user_id)
        raise AccountError(f"that identity is already linked to {owner.username!r}")
    link = UserIdentity(user_id=user.id, issuer=issuer, subject=subject)
    session.add(link)
    record_account_change(session, audit_key=audit_key, by=by, action="identity_linked", user=user,
                          detail={"issuer": issuer, "subject": subject, "how": how})
    return link


def unlink_identity(session: Session, *, username: str, issuer: str, by: User | None, audit_key: bytes) -> int:
    """Remove the user's links at one issuer; returns how many (the caller commits)."""
    user = find_user(session, username)
    links = session.exec(select(UserIdentity).where(UserIdentity.user_id == user.id,
                                                    UserIdentity.issuer == issuer)).all()
    for link in links:
        session.delete(link)
    record_account_change(session, audit_key=audit_key, by=by, action="identity_unlinked", user=user,
                          detail={"issuer": issuer, "links": len(links)})
    return len(links)


def user_for_identity(session: Session, *, settings: Settings, issuer: OidcIssuer, claims: dict,
                      audit_key: bytes) -> User | None:
    """The user linked to these verified claims, linking by a verified e-mail address first when the issuer's
    settings allow and exactly one active user has it; None when nobody is (the caller refuses). The caller
    commits."""
    subject = str(claims["sub"])
    link = session.exec(select(UserIdentity).where(UserIdentity.issuer == issuer.name,
                                                   UserIdentity.subject == subject)).first()
    email = str(claims.get("email") or "")
    domain = email.rpartition("@")[2].lower()
    if (link is None and issuer.link_verified_email and claims.get("email_verified") is True and email
            and domain in {allowed.lower() for allowed in issuer.link_email_domains}):
        matches = session.exec(select(User).where(User.email == email, User.is_active == True)  # noqa: E712
                               ).all()
        already = matches and session.exec(select(UserIdentity).where(UserIdentity.user_id == matches[0].id,
                                                                      UserIdentity.issuer == issuer.name)).first()
        if len(matches) == 1 and not already and matches[0].role in {str(role) for role in E_MAIL_LINKABLE}:
            link = link_identity(session, settings=settings, username=matches[0].username, issuer=issuer.name,
                                 subject=subject, by=None, audit_key=audit_key, how="verified_email")
    if link is None:
        return None
    link.last_used_at = utcnow()
    session.add(link)
    return session.get(User, link.user_id)
