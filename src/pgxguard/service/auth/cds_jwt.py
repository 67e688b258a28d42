"""Signed JWTs of CDS clients (CDS Hooks 2.0, "Trusting CDS Clients"), accepted by the CDS
Hooks services alongside pgxguard's own API tokens.

An EHR signs a short-lived JWT with its private key for every call. pgxguard accepts it when:

- the header has `typ` "JWT", a `kid`, and an asymmetric `alg` (RSA, RSA-PSS or ECDSA; the
  specification forbids `none` and shared-secret HMAC); a `jku` header naming anything but
  the configured JWK Set is refused (keys are never fetched from a URL the token names);
- the signature verifies with the key `kid` of the configured JWK Set (`PGXGUARD_CDS_JWKS`: a
  file, re-read when it changes, or an https URL, cached five minutes);
- `iss` is on the allow-list (`PGXGUARD_CDS_JWT_ISSUERS`), `aud` is the URL of the service
  endpoint called (public base URL + path), `exp`, `iat` and `jti` are present, the token has
  not expired (60 s leeway for clock skew) and does not live longer than an hour;
- its (`iss`, `jti`) has not been seen before. Seen ones are kept in the database table
  `cds_jwt_replay` until they expire, so the check holds across worker processes and nodes
  (an in-process set would not: `pgxguard serve --workers N`).

The call then acts as the configured service account (`PGXGUARD_CDS_JWT_USER`, a prescriber
role), and the audit row names the issuer, subject and `jti`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pgxguard.service.auth.security import TOKEN_PREFIX
from pgxguard.service.errors import AuthenticationError
from pgxguard.service.models import CdsJwtReplay

ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
LEEWAY_SECONDS = 60
MAX_LIFETIME_SECONDS = 3600
JWKS_URL_LIFESPAN_SECONDS = 300
_HINT = "see docs/cds-hooks.md, 'Authentication'"


def looks_like_jwt(token: str) -> bool:
    """A compact JWS (three dot-separated parts), not a pgxguard API token."""
    return not token.startswith(TOKEN_PREFIX) and token.count(".") == 2


def _refuse(message: str, hint: str = _HINT) -> AuthenticationError:
    return AuthenticationError(f"CDS client JWT refused: {message}", hint=hint)


class KeySource:
    """The configured JWK Set: a file path (re-read when its modification time or size
    changes) or an http(s) URL (PyJWT's JWK client, cached)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._is_url = where.startswith(("https://", "http://"))
        self._client = (jwt.PyJWKClient(where, cache_jwk_set=True,
                                        lifespan=JWKS_URL_LIFESPAN_SECONDS, timeout=10)
                        if self._is_url else None)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._set: jwt.PyJWKSet | None = None

    def _file_set(self) -> jwt.PyJWKSet:
        path = Path(self.where)
        try:
            st = os.stat(path)
            with self._lock:
                if self._set is None or self._stamp != (st.st_mtime_ns, st.st_size):
                    self._set = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
                    self._stamp = (st.st_mtime_ns, st.st_size)
                return self._set
        except (OSError, ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as e:
            raise _refuse(f"the JWK Set {self.where} cannot be read ({e})",
                          hint="fix PGXGUARD_CDS_JWKS (a JWK Set JSON file)") from e

    def key(self, kid: str) -> jwt.PyJWK:
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as e:
                raise _refuse(f"no key {kid!r} in the JWK Set at {self.where} ({e})") from e
        keys = self._file_set()
        try:
            return keys[kid]
        except KeyError as e:
            raise _refuse(f"no key {kid!r} in the configured JWK Set",
                          hint="add the EHR's public key to PGXGUARD_CDS_JWKS") from e


@dataclass(frozen=True, slots=True)
class CdsClient:
    """Who called, as the verified JWT says."""

    iss: str
    sub: str | None
    jti: str
    exp: int
    tenant: str | None = None

    def describe(self) -> str:
        parts = [f"CDS client JWT iss={self.iss}"]
        if self.sub:
            parts.append(f"sub={self.sub}")
        if self.tenant:
            parts.append(f"tenant={self.tenant}")
        parts.append(f"jti={self.jti}")
        return " ".join(parts)


def verify(token: str, *, keys: KeySource, issuers: tuple[str, ...], audience: str,
           jwks: str | None = None, now: float | None = None) -> CdsClient:
    """The verified claims of a CDS client's JWT; `AuthenticationError` saying why not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as e:
        raise _refuse(f"not a JWT ({e})") from e
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _refuse(f"alg {alg!r} is not accepted: CDS Hooks forbids 'none' and symmetric "
                      "(HMAC) algorithms", hint="sign with ES384 or RS384 (recommended)")
    if header.get("typ") != "JWT":
        raise _refuse(f"header typ must be 'JWT', not {header.get('typ')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refuse("header kid is missing (CDS Hooks requires it)")
    jku = header.get("jku")
    if jku is not None and jku != jwks:
        raise _refuse(f"jku {jku!r} is not the configured JWK Set",
                      hint="keys come only from PGXGUARD_CDS_JWKS")
    jwk = keys.key(kid)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, jwk.key, algorithms=[alg], audience=audience, issuer=issuers,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError as e:
        raise _refuse("expired (exp is past)", hint="the EHR signs a new JWT per call") from e
    except jwt.InvalidAudienceError as e:
        raise _refuse(f"aud must be {audience!r}, the URL of the service called",
                      hint="set PGXGUARD_PUBLIC_BASE_URL to the URL the EHR uses") from e
    except jwt.InvalidIssuerError as e:
        raise _refuse("iss is not on the allow-list",
                      hint="add the EHR's issuer to PGXGUARD_CDS_JWT_ISSUERS") from e
    except jwt.MissingRequiredClaimError as e:
        raise _refuse(f"claim {e.claim!r} is missing (CDS Hooks requires iss, aud, exp, iat "
                      "and jti)") from e
    except jwt.ImmatureSignatureError as e:
        raise _refuse("iat or nbf is in the future (check the EHR's clock)") from e
    except (jwt.InvalidTokenError, jwt.InvalidKeyError, TypeError, ValueError) as e:
        # bad signature, malformed claims, or a key of another type than `alg` needs
        raise _refuse(str(e) or type(e).__name__) from e
    jti, exp = claims["jti"], claims["exp"]
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise _refuse("jti must be a non-empty string of at most 256 characters")
    now = time.time() if now is None else now
    if exp - now > MAX_LIFETIME_SECONDS:
        raise _refuse(f"exp is more than {MAX_LIFETIME_SECONDS} s away",
                      hint="the EHR signs a short-lived JWT per call")
    sub, tenant = claims.get("sub"), claims.get("tenant")
    return CdsClient(iss=str(claims["iss"]), sub=str(sub) if sub is not None else None,
                     jti=jti, exp=int(exp), tenant=str(tenant) if tenant is not None else None)


def replay_key(iss: str, jti: str) -> str:
    return hashlib.sha256(f"{iss}\0{jti}".encode()).hexdigest()


def remember(sessions: sessionmaker[Session], client: CdsClient,
             now: datetime | None = None) -> None:
    """Record the token's (iss, jti) until it expires; `AuthenticationError` if it was seen
    (a replay). Its own short transaction, committed before the call goes on, so a second
    use is refused whatever happens to the first call. Expired entries are pruned here."""
    now = now or datetime.now(UTC)
    until = datetime.fromtimestamp(client.exp, UTC) + timedelta(seconds=LEEWAY_SECONDS)
    with sessions() as s:
        s.execute(delete(CdsJwtReplay).where(CdsJwtReplay.expires_at < now))
        s.add(CdsJwtReplay(key=replay_key(client.iss, client.jti), expires_at=until))
        try:
            s.commit()
        except IntegrityError as e:
            s.rollback()
            raise _refuse(f"jti {client.jti!r} was already used (replay)",
                          hint="the EHR signs a new JWT, with a new jti, per call") from e


__all__ = ["ALGORITHMS", "LEEWAY_SECONDS", "MAX_LIFETIME_SECONDS", "CdsClient", "KeySource",
           "looks_like_jwt", "remember", "replay_key", "verify"]
