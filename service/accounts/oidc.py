"""Signing in with a partner's own organisation: OpenID Connect, authorization code flow with PKCE.

The protocol only; the routes are in service/web/oidc.py. Authlib's OpenID claims validation (and joserfc,
Authlib's JOSE library, for signatures) decide whether an ID token is good; this module decides which token to
trust: the issuer's own keys from its discovery document, only asymmetric algorithms, our client id as the
audience, the nonce this browser was given, an allow-listed tenant. Who the person is *here* (user, role,
agency, seat) is never read from the token: service/accounts/identities.py maps the issuer's stable subject to a user.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from service.accounts.auth import keyed_token, same_token
from service.platform.settings import OidcIssuer

PENDING_SECONDS = 600  # a sign-in must come back from the issuer within this
CLOCK_LEEWAY_SECONDS = 60  # the issuer's clock and ours may differ this much
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TENANT_PLACEHOLDER = "{tenantid}"  # Entra ID's multi-tenant discovery documents name the issuer with it


class SignInRefused(Exception):  # noqa: N818 - a refusal, reported to the person and the audit trail
    """The issuer's answer cannot sign anyone in. ``reason`` is a short code for the audit trail, ``message``
    what the person is told; ``detail`` (subject, tenant) is kept for an admin who may link the identity."""

    def __init__(self, reason: str, message: str, **detail: str | None):
        super().__init__(message)
        self.reason, self.message, self.detail = reason, message, {k: v for k, v in detail.items() if v}


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser carries between leaving for the issuer and coming back, in a cookie signed with the
    service's secret: which issuer, the state (against forged callbacks), the nonce (against replayed ID
    tokens) and the PKCE verifier (against stolen codes)."""

    issuer: str
    state: str
    nonce: str
    verifier: str
    started: int

    @classmethod
    def start(cls, issuer: str) -> PendingSignIn:
        return cls(issuer=issuer, state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                   verifier=secrets.token_urlsafe(48), started=int(time.time()))

    def to_cookie(self, secret_key: str) -> str:
        body = base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode()
        return f"{keyed_token(secret_key, 'oidc', body)}.{body}"

    @classmethod
    def from_cookie(cls, secret_key: str, value: str) -> PendingSignIn:
        mac, _, body = value.partition(".")
        if not body or not same_token(mac, keyed_token(secret_key, "oidc", body)):
            raise SignInRefused("no_sign_in_started", "This browser did not start a sign-in here (or it was "
                                "changed on the way). Start again from the sign-in page.")
        pending = cls(**json.loads(base64.urlsafe_b64decode(body.encode())))
        if time.time() - pending.started > PENDING_SECONDS:
            raise SignInRefused("sign_in_too_slow", "The sign-in took too long. Start again from the sign-in page.")
        return pending


async def discover(http: httpx.AsyncClient, issuer: OidcIssuer) -> dict:
    """The issuer's discovery document (endpoints, keys' address, issuer name)."""
    response = await http.get(issuer.discovery_url)
    response.raise_for_status()
    return response.json()


def authorization_url(metadata: dict, issuer: OidcIssuer, redirect_uri: str, pending: PendingSignIn) -> str:
    query = {"response_type": "code", "client_id": issuer.client_id, "redirect_uri": redirect_uri,
             "scope": issuer.scopes, "state": pending.state, "nonce": pending.nonce,
             "code_challenge": create_s256_code_challenge(pending.verifier), "code_challenge_method": "S256"}
    endpoint = metadata["authorization_endpoint"]
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


async def redeem_code(http: httpx.AsyncClient, metadata: dict, issuer: OidcIssuer, *, code: str,
                      redirect_uri: str, verifier: str) -> tuple[str, dict]:
    """Exchange the code (with the PKCE verifier) for the ID token; returns it and the issuer's keys."""
    response = await http.post(metadata["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier,
        "client_id": issuer.client_id, "client_secret": issuer.client_secret})
    if response.status_code != 200 or "id_token" not in response.json():
        raise SignInRefused("code_not_redeemed", "Your organisation did not confirm the sign-in. Start again from "
                            "the sign-in page.")
    keys = await http.get(metadata["jwks_uri"])  # every time: the issuer may have rotated its keys
    keys.raise_for_status()
    return response.json()["id_token"], keys.json()


def verify_id_token(id_token: str, *, issuer: OidcIssuer, metadata: dict, jwks: dict, nonce: str,
                    now: int | None = None) -> dict:
    """The ID token's claims when it is signed by the issuer's key, issued by that issuer (in an allowed tenant),
    for our client, for this browser's sign-in (nonce), and not expired; SignInRefused saying which otherwise."""
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=list(SIGNING_ALGORITHMS))
    except (JoseError, ValueError) as error:
        raise SignInRefused("bad_signature", "The sign-in could not be checked: it is not signed by your "
                            "organisation's key.") from error
    claims = dict(token.claims)
    tenant = claims.get("tid")
    expected_issuer = str(metadata["issuer"])
    if TENANT_PLACEHOLDER in expected_issuer:
        expected_issuer = expected_issuer.replace(TENANT_PLACEHOLDER, str(tenant or ""))
    checks = CodeIDToken(claims, token.header, options={"iss": {"essential": True, "value": expected_issuer},
                                                        "aud": {"essential": True, "value": issuer.client_id}},
                         params={"nonce": nonce, "client_id": issuer.client_id})
    subject = str(claims.get("sub") or "")
    try:
        checks.validate(now=now, leeway=CLOCK_LEEWAY_SECONDS)
    except ExpiredTokenError as error:
        raise SignInRefused("expired_token", "The sign-in from your organisation had expired. Start again.",
                            subject=subject) from error
    except (InvalidClaimError, MissingClaimError) as error:
        reason, message = CLAIM_REFUSALS.get(error.claim, (f"bad_{error.claim}", "The sign-in could not be "
                                                           f"checked (its {error.claim!r} is not right)."))
        raise SignInRefused(reason, message, subject=subject, tenant=tenant) from error
    any_tenant = TENANT_PLACEHOLDER in str(metadata["issuer"]) and not issuer.allowed_tenant_ids
    if any_tenant or (issuer.allowed_tenant_ids and tenant not in issuer.allowed_tenant_ids):
        raise SignInRefused("unknown_tenant", "Your organisation's directory is not one this service accepts "
                            f"for {issuer.label}.", subject=subject, tenant=tenant)
    if not subject:
        raise SignInRefused("bad_sub", "The sign-in did not say who you are.")
    return claims


CLAIM_REFUSALS = {
    "aud": ("wrong_audience", "The sign-in was meant for another service, not this one."),
    "azp": ("wrong_audience", "The sign-in was meant for another service, not this one."),
    "nonce": ("wrong_nonce", "The sign-in does not belong to this browser's attempt (it may have been replayed). "
                             "Start again from the sign-in page."),
    "iss": ("wrong_issuer", "The sign-in came from a different organisation than the one you chose."),
    "exp": ("expired_token", "The sign-in from your organisation had expired. Start again."),
    "iat": ("expired_token", "The sign-in from your organisation is dated wrongly. Start again."),
}
