"""Who may do what: the auth matrix over every kind of endpoint, then JWT and Firebase tokens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.api import Api

GENERATE = {"job_type": "generate", "request": {"model": "tinyllama", "prompt": "hello"}}

# (method, path, who) → expected status. `{job}` is a job alice owns.
MATRIX: list[tuple[str, str, str | None, int]] = [
    ("GET", "/api/ai-agent/job/{job}/status", "alice", 200),
    ("GET", "/api/ai-agent/job/{job}/status", "bob", 404),  # another user's job does not exist for them
    ("GET", "/api/ai-agent/job/{job}/status", "admin", 200),
    ("GET", "/api/ai-agent/job/{job}/status", None, 401),
    ("GET", "/api/ai-agent/job/{job}/status", "bad", 401),
    ("GET", "/api/ai-agent/job/{job}/result", "bob", 404),
    ("POST", "/api/ai-agent/job/{job}/cancel", "bob", 404),
    ("POST", "/api/ai-agent/job/{job}/retry", "bob", 404),
    ("POST", "/api/ai-agent/jobs", None, 401),
    ("POST", "/api/ai-agent/jobs", "bad", 401),
    ("GET", "/api/ai-agent/jobs", None, 401),
    ("GET", "/api/ai-agent/jobs/stats", "bad", 401),
    ("GET", "/api/ai-agent/lock", "bob", 200),
    ("GET", "/api/ai-agent/lock", None, 401),
    ("POST", "/api/ai-agent/lock/force-release", "alice", 403),
    ("POST", "/api/ai-agent/lock/force-release", "admin", 404),  # allowed, but the GPU is free
    ("POST", "/api/ai-agent/lock/force-release", None, 401),
    ("GET", "/api/ai-agent/lock/history", "alice", 200),
    ("GET", "/api/ai-agent/admin/users", "alice", 403),
    ("GET", "/api/ai-agent/admin/users", "admin", 200),
    ("GET", "/api/ai-agent/admin/keys", "bob", 403),
    ("POST", "/api/ai-agent/admin/cleanup", "bob", 403),
    ("GET", "/api/locks", None, 401),
    ("GET", "/api/locks", "alice", 200),
    ("POST", "/api/locks/nothing-held/force-release", "alice", 403),
    ("GET", "/api/ai-agent/me", "bad", 401),
    ("GET", "/health", None, 200),
    ("GET", "/api/ai-agent/health", None, 200),
    ("GET", "/metrics", None, 200),
]


@pytest.fixture
def alice_job(api: Api) -> str:
    return api.as_("alice").post("/api/ai-agent/jobs", json=GENERATE).json()["job_id"]


def test_auth_matrix(api: Api, alice_job: str) -> None:
    api.tokens["bad"] = "aij_not-a-key"
    failures = []
    for method, path, who, expected in MATRIX:
        body = GENERATE if path.endswith("/jobs") and method == "POST" else None
        response = api.as_(who).request(method, path.format(job=alice_job), json=body)
        if response.status_code != expected:
            failures.append(f"{method} {path} as {who}: {response.status_code} (expected {expected})")
        elif expected == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json()["error"]["code"] == "unauthorized"
        elif expected in (403, 404):
            assert response.json()["error"]["code"] in {"forbidden", "not_found"}
    assert not failures, "\n".join(failures)


def test_me_names_the_caller_and_admins_manage_users_and_keys(api: Api) -> None:
    assert api.as_("alice").get("/api/ai-agent/me").json() == {"id": "alice", "username": "alice", "is_admin": False}
    admin = api.as_("admin")
    created = admin.post("/api/ai-agent/admin/users", json={"username": "carol", "label": "laptop"})
    assert created.status_code == 201
    carol = httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {created.json()['key']}"})
    assert carol.get("/api/ai-agent/me").json()["username"] == "carol"
    taken = admin.post("/api/ai-agent/admin/users", json={"username": "carol"})
    assert taken.status_code == 409
    bad_name = admin.post("/api/ai-agent/admin/users", json={"username": "no spaces please"})
    assert bad_name.status_code == 422 and "user name" in bad_name.json()["error"]["message"]
    assert admin.delete(f"/api/ai-agent/admin/keys/{created.json()['key_id']}").status_code == 204
    assert carol.get("/api/ai-agent/me").status_code == 401  # revoked at once
    carol.close()


# ---- JWT and Firebase ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The public key served as a JWKS over real HTTP, as an identity provider would."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def rs256(key: rsa.RSAPrivateKey, **claims: object) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, key, algorithm="RS256", headers={"kid": "test-key"})


def get_me(api: Api, token: str) -> httpx.Response:
    return httpx.get(api.base_url + "/api/ai-agent/me", headers={"Authorization": f"Bearer {token}"})


def test_jwt_hs256_valid_expired_and_forged(start_api: Callable[..., Api]) -> None:
    api = start_api(processor=False, AUTH_MODE="jwt", JWT_SECRET="s3cret-for-tests-only-0123456789")
    now = int(time.time())
    good = jwt.encode(
        {"sub": "u-42", "name": "dana", "exp": now + 60, "admin": True}, "s3cret-for-tests-only-0123456789"
    )
    assert get_me(api, good).json() == {"id": "u-42", "username": "dana", "is_admin": True}
    expired = jwt.encode({"sub": "u-42", "exp": now - 120}, "s3cret-for-tests-only-0123456789")
    response = get_me(api, expired)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    forged = jwt.encode({"sub": "u-42", "exp": now + 60}, "some-other-secret-0123456789abcdef")
    assert get_me(api, forged).status_code == 401
    assert get_me(api, "aij_an-api-key-is-not-a-jwt").status_code == 401


def test_jwt_rs256_through_jwks_with_audience(
    start_api: Callable[..., Api], jwks_url: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    api = start_api(processor=False, AUTH_MODE="jwt", JWT_JWKS_URL=jwks_url, JWT_AUDIENCE="aijobs")
    assert get_me(api, rs256(rsa_key, sub="erin", aud="aijobs")).json()["username"] == "erin"
    assert get_me(api, rs256(rsa_key, sub="erin", aud="someone-else")).status_code == 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert get_me(api, rs256(other_key, sub="mallory", aud="aijobs")).status_code == 401


def test_firebase_id_tokens(start_api: Callable[..., Api], jwks_url: str, rsa_key: rsa.RSAPrivateKey) -> None:
    api = start_api(processor=False, AUTH_MODE="firebase", FIREBASE_PROJECT_ID="acme-ai", FIREBASE_JWKS_URL=jwks_url)
    issuer = "https://securetoken.google.com/acme-ai"
    token = rs256(rsa_key, sub="firebase-uid-1", aud="acme-ai", iss=issuer, email="fay@example.com")
    assert get_me(api, token).json() == {"id": "firebase-uid-1", "username": "fay@example.com", "is_admin": False}
    wrong_project = rs256(rsa_key, sub="x", aud="other-project", iss="https://securetoken.google.com/other-project")
    assert get_me(api, wrong_project).status_code == 401
    # Jobs are isolated per token subject, as with API keys.
    other = rs256(rsa_key, sub="firebase-uid-2", aud="acme-ai", iss=issuer)
    job = httpx.post(
        api.base_url + "/api/ai-agent/jobs", json=GENERATE, headers={"Authorization": f"Bearer {token}"}
    ).json()
    status = httpx.get(
        f"{api.base_url}/api/ai-agent/job/{job['job_id']}/status", headers={"Authorization": f"Bearer {other}"}
    )
    assert status.status_code == 404
