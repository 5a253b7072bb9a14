"""Sign-in with a partner's own organisation (OpenID Connect): the button's route sends the browser to the issuer with
a fresh state, nonce and PKCE challenge; the callback redeems the code, checks the ID token
(service/accounts/oidc.py), finds the linked user (service/accounts/identities.py) and starts an ordinary service
session, so sign-out, timeouts and roles are the same as for a password. Every refusal is audited and shown as a
page."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from service.accounts.auth import SessionKind
from service.accounts.identities import user_for_identity
from service.accounts.oidc import (
    PENDING_SECONDS,
    PendingSignIn,
    SignInRefused,
    authorization_url,
    discover,
    redeem_code,
    verify_id_token,
)
from service.accounts.sign_in import set_session_cookie, start_signed_in_session
from service.deps import app_settings, audit, database_engine
from service.platform.settings import OidcIssuer
from service.web.pages import home_for, render

router = APIRouter(include_in_schema=False)
PENDING_COOKIE = "rr_oidc"
CallbackValue = Annotated[str, Query(max_length=4000)]
HTTP_TIMEOUT_SECONDS = 10


def configured_issuer(request: Request, name: str) -> OidcIssuer:
    issuer = app_settings(request).oidc_issuer(name)
    if issuer is None:
        raise HTTPException(404, f"No organisation called {name!r} is set up for sign-in here")
    return issuer


def callback_url(request: Request, issuer: OidcIssuer) -> str:
    """Where the issuer sends the browser back: the service's public address, never one a request names."""
    return f"{app_settings(request).rapid_review_public_url.rstrip('/')}/signin/oidc/{issuer.name}/callback"


@router.get("/signin/oidc/{name}")
async def start_oidc_sign_in(name: str, request: Request) -> Response:
    """Off to the partner's issuer, carrying this browser's pending sign-in in a signed cookie."""
    issuer = configured_issuer(request, name)
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            metadata = await discover(http, issuer)
    except (httpx.HTTPError, ValueError):
        raise HTTPException(502, f"{issuer.label} cannot be reached just now; try again, or sign in with a "
                                 "username and password") from None
    pending = PendingSignIn.start(issuer.name)
    response = RedirectResponse(authorization_url(metadata, issuer, callback_url(request, issuer), pending),
                                status_code=303)
    settings = app_settings(request)
    response.set_cookie(PENDING_COOKIE, pending.to_cookie(settings.secret_key or ""), max_age=PENDING_SECONDS,
                        httponly=True, samesite="lax", secure=settings.is_production, path="/signin/oidc")
    return response


@router.get("/signin/oidc/{name}/callback")
async def finish_oidc_sign_in(name: str, request: Request, code: CallbackValue = "", state: CallbackValue = "",
                              error: CallbackValue = "") -> Response:
    """Back from the issuer: a session for the linked user, or a page saying why not (audited)."""
    issuer = configured_issuer(request, name)
    settings = app_settings(request)
    engine = database_engine(request)
    try:
        pending = PendingSignIn.from_cookie(settings.secret_key or "", request.cookies.get(PENDING_COOKIE, ""))
        if pending.issuer != issuer.name or not state or state != pending.state:
            raise SignInRefused("wrong_state", "This sign-in answer does not match the one this browser started. "
                                "Start again from the sign-in page.")
        if error or not code:
            raise SignInRefused("issuer_refused", f"{issuer.label} did not sign you in.", error=error[:100])
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            metadata = await discover(http, issuer)
            id_token, jwks = await redeem_code(http, metadata, issuer, code=code,
                                               redirect_uri=callback_url(request, issuer), verifier=pending.verifier)
        claims = verify_id_token(id_token, issuer=issuer, metadata=metadata, jwks=jwks, nonce=pending.nonce)
        with Session(engine, expire_on_commit=False) as session:
            user = user_for_identity(session, settings=settings, issuer=issuer, claims=claims,
                                     audit_key=settings.audit_key_bytes)
            session.commit()
        if user is None:
            raise SignInRefused("unknown_identity", f"You signed in at {issuer.label}, but nobody here has linked "
                                "that account to a user of this service. Ask the partnership's administrator to "
                                "link it (they can see this attempt in the audit trail).",
                                subject=str(claims["sub"]), tenant=claims.get("tid"))
        if not user.is_active:
            raise SignInRefused("account_disabled", "Your account here is disabled.", subject=str(claims["sub"]))
    except (httpx.HTTPError, ValueError) as failure:
        return refused(request, issuer, SignInRefused("issuer_unreachable", f"{issuer.label} could not be "
                                                      f"reached to finish signing in ({type(failure).__name__})."))
    except SignInRefused as refusal:
        return refused(request, issuer, refusal)
    # The partner organisation's sign-in is where its staff pass their second factor.
    token = start_signed_in_session(request, user, SessionKind.cookie, second_factor=True, issuer=issuer.name)
    response = RedirectResponse(home_for(user), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path="/signin/oidc")
    return response


def refused(request: Request, issuer: OidcIssuer, refusal: SignInRefused) -> Response:
    with Session(database_engine(request)) as session:
        audit(session, request, None, "oidc_sign_in_refused", None,
              {"issuer": issuer.name, "reason": refusal.reason, **refusal.detail})
    response = render(request, "error.html", None, status_code=403, heading="You are not signed in",
                      message=refusal.message, status=403)
    response.delete_cookie(PENDING_COOKIE, path="/signin/oidc")
    return response
