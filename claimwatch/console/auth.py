"""Who is asking, and whether a form came from the console: ALB sign-in and CSRF, as plain code.

In production the console sits behind an AWS Application Load Balancer that signs users in with
OIDC and passes who they are in ``x-amzn-oidc-data``: a JWT signed with ES256 by the load balancer,
whose public key is served at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``. The
console trusts that header only when its signature checks with that key, its ``signer`` is the
configured load balancer and it has not expired; anything else (no header, a header someone typed,
another load balancer's) is refused. There is no unsigned identity header it would believe.

Run locally (bound to 127.0.0.1) it has no sign-in and says so on every page.

A form is accepted only with the CSRF token of the browser's own cookie (double submit, the cookie
``SameSite=Strict``), compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ALB_HEADER = "x-amzn-oidc-data"
ALB_KEYS_URL = "https://public-keys.auth.elb.{region}.amazonaws.com"
MAX_TOKEN = 16_384  # bytes: an ALB token is a few hundred
CSRF_COOKIE, CSRF_FIELD = "cw_csrf", "csrf"


class AuthError(ValueError):
    """Why a request's identity is refused (said in the 401 page and the log, never the token)."""


@dataclass(frozen=True)
class Identity:
    user: str  # what actions are recorded as: the e-mail address, else the subject
    email: str = ""
    signed: bool = False  # False: local use, no sign-in


LOCAL = Identity(user="local", signed=False)


def _b64(part: str) -> bytes:
    # The ALB pads its base64url; other writers do not: both are read.
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise AuthError("the identity header is not a JWT") from None


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, the signed bytes and the signature of a compact JWT; AuthError otherwise."""
    if len(token) > MAX_TOKEN:
        raise AuthError("the identity header is too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("the identity header is not a JWT")
    try:
        header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AuthError("the identity header is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthError("the identity header is not a JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64(parts[2])


def verify_alb(token: str, key_for: Callable[[str], bytes], signer: str, now: float) -> Identity:
    """The identity in an ALB's ``x-amzn-oidc-data``, or AuthError: the signature must check with
    the key ``key_for(kid)`` returns (PEM), ``signer`` be the load balancer's ARN, and the token be
    unexpired at ``now`` (seconds since the epoch)."""
    header, claims, signed, signature = token_parts(token)
    if header.get("alg") != "ES256":
        raise AuthError(f"the identity header is signed with {str(header.get('alg'))[:20]!r}, not ES256")
    if header.get("signer") != signer:
        raise AuthError("the identity header was signed by another load balancer")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 200:
        raise AuthError("the identity header names no key")
    try:
        key = serialization.load_pem_public_key(key_for(kid))
    except AuthError:
        raise
    except Exception:
        raise AuthError("the load balancer's public key could not be had") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) != 64:
        raise AuthError("the identity header's signature is not an ES256 one")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthError("the identity header's signature does not check") from None
    expires = header.get("exp", claims.get("exp"))
    if not isinstance(expires, int | float) or expires <= now:
        raise AuthError("the identity header has expired: sign in again")
    email = claims.get("email")
    subject = claims.get("sub")
    email = email if isinstance(email, str) else ""
    subject = subject if isinstance(subject, str) else ""
    user = (email or subject)[:200]
    if not user:
        raise AuthError("the identity header names nobody")
    return Identity(user=user, email=email[:200], signed=True)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """The form's token is the browser's cookie (both present, compared in constant time)."""
    if not cookie or not submitted or len(submitted) > 200:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
