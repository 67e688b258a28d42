"""CDS Hooks 2.0 security: CORS for browser-based CDS clients, and the EHR's signed JWT
("Trusting CDS Clients": iss allow-list, keys from a JWK Set, aud = the service URL, exp,
iat, jti replay check), alongside pgxguard's own API tokens. Keys are generated here."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import test_service_support as support
from pgxguard.service.auth import service as auth_service
from pgxguard.service.settings import Settings, SettingsError
from test_service_support import Svc

jwt = pytest.importorskip("jwt")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings

BASE = "https://pgx.example.test"
ISS = "https://ehr.example.test/"
SERVICE = "pgxguard-order-sign"
AUD = f"{BASE}/cds-services/{SERVICE}"
EHR_ORIGIN = "https://ehr.example.test"
EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwks(**keys: Any) -> dict[str, Any]:
    """A JWK Set of the public halves, as the EHR publishes it."""
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    out = []
    for kid, key in keys.items():
        algo = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
        jwk = json.loads(algo.to_jwk(key.public_key()))
        out.append({**jwk, "kid": kid, "use": "sig"})
    return {"keys": out}


def _token(*, key: Any = EC_KEY, alg: str = "ES384", kid: str | None = "ec-1",
           headers: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
           **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "sub": "client_id", "aud": AUD, "iat": now, "exp": now + 300,
               "jti": str(uuid.uuid4()), "tenant": "trust-42", **claims}
    for k in drop:
        payload.pop(k)
    hdr = {"typ": "JWT", **({"kid": kid} if kid else {}), **(headers or {})}
    return str(jwt.encode(payload, key, algorithm=alg, headers=hdr))


def _body(patient: str) -> dict[str, Any]:
    return {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": patient, "draftOrders": {
                "resourceType": "Bundle", "entry": [{"resource": {
                    "resourceType": "MedicationRequest", "id": "m1",
                    "medicationCodeableConcept": {"text": "Frobnicol 10mg"}}}]}}}


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(_jwks(**{"ec-1": EC_KEY, "rsa-1": RSA_KEY})))
    return path


def _service(settings: Settings) -> Iterator[Svc]:
    for svc in support.make_service(settings):
        with svc.session() as s:
            auth_service.create_user(s, "ehr-cds", support.PASSWORD, "prescriber")
            s.commit()
        yield svc


@pytest.fixture
def jwt_svc(db_settings: Settings, jwks_file: Path) -> Iterator[Svc]:
    yield from _service(replace(db_settings, public_base_url=BASE, cds_jwt_issuers=(ISS,),
                                cds_jwks=str(jwks_file), cds_jwt_user="ehr-cds",
                                cors_origins=(EHR_ORIGIN,)))


def _patient(svc: Svc) -> int:
    """The one patient of this service (made on first use)."""
    if "patient" not in svc.user_ids:
        svc.user_ids["patient"] = svc.new_patient()
    return svc.user_ids["patient"]


def _call(svc: Svc, token: str, path: str = f"/cds-services/{SERVICE}") -> Any:
    return svc.client.post(path, json=_body(str(_patient(svc))),
                           headers={"Authorization": f"Bearer {token}"})


def test_signed_jwt_is_accepted_once_and_audited(jwt_svc: Svc) -> None:
    for token in (_token(), _token(key=RSA_KEY, alg="RS384", kid="rsa-1"),
                  _token(aud=[AUD, "https://other.example/"])):
        r = _call(jwt_svc, token)
        assert r.status_code == 200, r.text
    # the call is answered (an unknown medicine: a "could not check" card) ...
    assert r.json()["cards"][0]["summary"].startswith("Could not check Frobnicol")
    # ... and audited as the service account, naming the EHR and the token
    rows = jwt_svc.audit(action="cds.order-sign")
    assert [a.username for a in rows] == ["ehr-cds"] * 3
    detail = rows[-1].detail or ""
    assert f"iss={ISS}" in detail and "sub=client_id" in detail and "tenant=trust-42" in detail
    # the same token again is a replay
    token = _token()
    assert _call(jwt_svc, token).status_code == 200
    r = _call(jwt_svc, token)
    assert r.status_code == 401 and "replay" in r.json()["error"]
    # pgxguard API tokens still work alongside
    r = jwt_svc.client.post(f"/cds-services/{SERVICE}", json=_body(str(_patient(jwt_svc))),
                            headers=jwt_svc.h("prescriber"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("make", "why"), [
    (lambda: _token(aud=f"{BASE}/cds-services"), "aud must be"),
    (lambda: _token(aud=f"{BASE}/cds-services/pgxguard-order-select"), "aud must be"),
    (lambda: _token(iss="https://evil.example/"), "iss is not on the allow-list"),
    (lambda: _token(exp=int(time.time()) - 120), "expired"),
    (lambda: _token(exp=int(time.time()) + 7200), "more than 3600 s away"),
    (lambda: _token(iat=int(time.time()) + 600), "in the future"),
    (lambda: _token(drop=("jti",)), "'jti' is missing"),
    (lambda: _token(drop=("iat",)), "'iat' is missing"),
    (lambda: _token(drop=("exp",)), "'exp' is missing"),
    (lambda: _token(key="shared-secret-of-32-bytes-or-more!!", alg="HS256"), "HMAC"),
    (lambda: _token(kid=None), "kid is missing"),
    (lambda: _token(kid="nope"), "no key 'nope'"),
    (lambda: _token(headers={"typ": "at+jwt"}), "typ must be 'JWT'"),
    (lambda: _token(headers={"jku": "https://evil.example/jwks"}), "jku"),
    (lambda: _token(key=OTHER_KEY), "Signature verification failed"),
    (lambda: _token(key=RSA_KEY, alg="RS384", kid="ec-1"), "CDS client JWT refused"),
    (lambda: "e30.e30.", "CDS client JWT refused"),
])
def test_bad_jwts_are_refused(jwt_svc: Svc, make: Any, why: str) -> None:
    r = _call(jwt_svc, make())
    assert r.status_code == 401, r.text
    assert why in r.json()["error"], r.json()
    assert r.headers["www-authenticate"] == "Bearer"
    assert jwt_svc.audit(action="cds.order-sign") == []
    [denied] = jwt_svc.audit(action="cds:invoke")
    assert denied.outcome == "denied" and why in (denied.detail or "")


def test_alg_none_is_refused(jwt_svc: Svc) -> None:
    now = int(time.time())
    token = jwt.encode({"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x"},
                       None, algorithm="none", headers={"kid": "ec-1", "typ": "JWT"})
    r = _call(jwt_svc, token)
    assert r.status_code == 401 and "'none'" in r.json()["error"]


def test_jwt_refused_when_not_configured(tmp_path: Path) -> None:
    for svc in support.make_service(Settings(data_dir=tmp_path / "d")):
        r = _call(svc, _token(aud=f"http://testserver/cds-services/{SERVICE}"))
        assert r.status_code == 401
        assert "not configured" in r.json()["error"]
        assert "PGXGUARD_CDS_JWT_ISSUERS" in r.json()["hint"]


def test_jwks_from_a_url(tmp_path: Path) -> None:
    body = json.dumps(_jwks(**{"ec-1": EC_KEY})).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        settings = Settings(data_dir=tmp_path / "d", public_base_url=BASE,
                            cds_jwt_issuers=(ISS,), cds_jwks=url, cds_jwt_user="ehr-cds")
        for svc in _service(settings):
            assert _call(svc, _token(headers={"jku": url})).status_code == 200
            assert _call(svc, _token(kid="rsa-1", key=RSA_KEY, alg="RS384")).status_code == 401
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_settings_for_jwt_and_cors_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PGXGUARD_CDS_JWKS"):
        Settings(data_dir=tmp_path, cds_jwt_issuers=(ISS,)).check()
    for bad in ("*", "https://ehr.example.test/path", "ehr.example.test"):
        with pytest.raises(SettingsError, match="not an origin"):
            Settings(data_dir=tmp_path, cors_origins=(bad,)).check()
    env = {"PGXGUARD_CDS_JWT_ISSUERS": f"{ISS}, https://b.example/",
           "PGXGUARD_CDS_JWKS": "/etc/pgxguard/ehr-jwks.json",
           "PGXGUARD_CDS_JWT_USER": "ehr-cds",
           "PGXGUARD_CORS_ORIGINS": f"{EHR_ORIGIN},https://b.example:8443"}
    s = Settings.from_env(env, data_dir=tmp_path).check()
    assert s.cds_jwt_issuers == (ISS, "https://b.example/")
    assert (s.cds_jwks, s.cds_jwt_user) == ("/etc/pgxguard/ehr-jwks.json", "ehr-cds")
    assert s.cors_origins == (EHR_ORIGIN, "https://b.example:8443")


# --- CORS ---------------------------------------------------------------------------------

def _preflight(svc: Svc, path: str, origin: str) -> Any:
    return svc.client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_cors_preflight_and_responses_for_configured_origins(jwt_svc: Svc) -> None:
    path = f"/cds-services/{SERVICE}"
    r = _preflight(jwt_svc, path, EHR_ORIGIN)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EHR_ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "access-control-allow-credentials" not in r.headers
    r = _preflight(jwt_svc, "/cds-services", EHR_ORIGIN)
    assert r.status_code == 200
    # another origin: answered, but not allowed
    r = _preflight(jwt_svc, path, "https://evil.example")
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    # the actual calls carry the header, refusals too (so the page can read the error)
    pid = _patient(jwt_svc)
    for headers, status in ((jwt_svc.h("prescriber"), 200), ({}, 401)):
        r = jwt_svc.client.post(path, json=_body(str(pid)),
                                headers={**headers, "Origin": EHR_ORIGIN})
        assert r.status_code == status
        assert r.headers["access-control-allow-origin"] == EHR_ORIGIN
        assert r.headers["vary"].lower().count("origin") == 1
    r = jwt_svc.client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # no CORS outside the CDS Hooks paths (the REST API, the cookie-session UI)
    r = _preflight(jwt_svc, "/patients", EHR_ORIGIN)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers


def test_cors_allows_no_origin_by_default(tmp_path: Path) -> None:
    for svc in support.make_service(Settings(data_dir=tmp_path / "d")):
        r = _preflight(svc, f"/cds-services/{SERVICE}", EHR_ORIGIN)
        assert r.status_code == 400  # answered (not 405), but no origin is allowed
        assert "access-control-allow-origin" not in r.headers
