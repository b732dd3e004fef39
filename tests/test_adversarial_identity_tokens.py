"""Adversarial: token revocation, restricted application credentials, lockout on the
self-service password change, and the encoding of tokens (Identity, Keystone v3).

Keystone revokes tokens with revocation events matched against the token's values
(keystone/models/revoke_model.py): an event for a user_id matches a token whose
`user_id`, `trustor_id` or `trustee_id` is that user (ALTERNATIVES['user_id']), and a
password change or a disable records such an event (keystone/identity/core.py
update_user / change_password -> _persist_revocation_event_for_user).  Validation also
re-checks that trustor and trustee are enabled (keystone/models/token_model.py
_validate_token_user) and that the application credential still exists
(token_model.application_credential).
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests

from adversarial_support import (app_cred_token, assert_keystone_error, password_token, trust_token,
                                 used, validate)
from nimbus_launcher import random_password


# ---- trusts ------------------------------------------------------------------------------

def _trust(cloud, trustor, trustee, impersonation: bool) -> str:
    tok, _ = password_token(cloud.auth_url, trustor.id, trustor.password, trustor.project_id)
    r = cloud.api("POST", "/OS-TRUST/trusts", token=tok, json={"trust": {
        "trustor_user_id": trustor.id, "trustee_user_id": trustee.id, "project_id": trustor.project_id,
        "impersonation": impersonation, "roles": [{"name": "member"}]}})
    assert r.status_code == 201, r.text
    return r.json()["trust"]["id"]


def _change(cloud, user, change: str) -> None:
    if change == "password":
        # the user's own self-service change (keystone/api/users.py UserChangePasswordResource)
        r = requests.post(f"{cloud.auth_url}/users/{user.id}/password", timeout=30, json={
            "user": {"original_password": user.password, "password": random_password()}})
        assert r.status_code == 204, r.text
    elif change == "admin-password":
        r = cloud.api("PATCH", f"/users/{user.id}", json={"user": {"password": random_password()}})
        assert r.status_code == 200, r.text
    else:
        r = cloud.api("PATCH", f"/users/{user.id}", json={"user": {"enabled": False}})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("change", ["password", "admin-password", "disabled"])
@pytest.mark.parametrize("who", ["trustor", "trustee"])
@pytest.mark.parametrize("impersonation", [False, True], ids=["plain", "impersonating"])
def test_trust_token_is_revoked_when_trustor_or_trustee_changes(cloud, new_user, impersonation, who, change):
    """A trust-scoped token carries trustor_id and trustee_id; a revocation event for either
    user (password changed by the user or by an admin, user disabled) matches it
    (revoke_model ALTERNATIVES: user_id -> user_id, trustor_id, trustee_id), so it is gone:
    404 on GET /v3/auth/tokens, 401 when used.  Impersonating or not makes no difference."""
    trustor, trustee = new_user("member"), new_user("member")
    trust_id = _trust(cloud, trustor, trustee, impersonation)
    trustee_tok, _ = password_token(cloud.auth_url, trustee.id, trustee.password)
    tok, body = trust_token(cloud.auth_url, trustee_tok, trust_id)
    assert body["token"]["OS-TRUST:trust"]["impersonation"] is impersonation
    assert validate(cloud.auth_url, cloud.admin_token(), tok) == 200
    _change(cloud, trustor if who == "trustor" else trustee, change)
    assert validate(cloud.auth_url, cloud.admin_token(), tok) == 404, \
        f"trust token still valid after the {who}'s {change} change"
    assert used(cloud.auth_url, tok) == 401


# ---- application credentials ---------------------------------------------------------------

def _app_cred(cloud, user, token: str | None = None, **fields) -> dict:
    if token is None:
        token, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    r = cloud.api("POST", f"/users/{user.id}/application_credentials", token=token,
                  json={"application_credential": {"name": uuid.uuid4().hex[:12], **fields}})
    assert r.status_code == 201, r.text
    return r.json()["application_credential"]


@pytest.mark.parametrize("change", ["password", "admin-password", "disabled", "deleted"])
def test_app_cred_token_is_revoked_when_owner_changes_or_cred_is_deleted(cloud, new_user, change):
    """An application-credential token is the owner's token (user_id = owner): the owner's
    password change or disabling revokes it (revocation event on the user), and deleting the
    credential revokes it too (keystone/application_credential/core.py
    delete_application_credential -> revoke; token_model.application_credential 404s)."""
    user = new_user("member")
    cred = _app_cred(cloud, user)
    tok, _ = app_cred_token(cloud.auth_url, cred["id"], cred["secret"])
    assert validate(cloud.auth_url, cloud.admin_token(), tok) == 200
    if change == "deleted":
        r = cloud.api("DELETE", f"/users/{user.id}/application_credentials/{cred['id']}")
        assert r.status_code == 204, r.text
    else:
        _change(cloud, user, change)
    assert validate(cloud.auth_url, cloud.admin_token(), tok) == 404, f"app cred token valid after {change}"
    assert used(cloud.auth_url, tok) == 401


# ---- a restricted application credential may not manage delegations -----------------------

class Restricted:
    """A member user with: a restricted app cred token (`tok`), its own password token, a
    credential without project, a credential on another project, another app cred, a trust."""

    def __init__(self, cloud, new_user):
        self.cloud = cloud
        self.user = new_user("member")
        self.other = new_user("member")
        self.password_tok, _ = password_token(cloud.auth_url, self.user.id, self.user.password,
                                              self.user.project_id)
        self.cred = _app_cred(cloud, self.user, self.password_tok)      # unrestricted: false (default)
        assert self.cred["unrestricted"] is False
        self.tok, body = app_cred_token(cloud.auth_url, self.cred["id"], self.cred["secret"])
        assert body["token"]["methods"] == ["application_credential"]

    def credential(self, project_id: str | None = None, type_: str = "cert") -> str:
        body = {"type": type_, "user_id": self.user.id, "blob": uuid.uuid4().hex}
        if project_id:
            body["project_id"] = project_id
        if type_ == "ec2":
            body["blob"] = json.dumps({"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex})
        r = self.cloud.api("POST", "/credentials", token=self.password_tok, json={"credential": body})
        assert r.status_code == 201, r.text
        return r.json()["credential"]["id"]

    def trust(self) -> str:
        r = self.cloud.api("POST", "/OS-TRUST/trusts", token=self.password_tok, json={"trust": {
            "trustor_user_id": self.user.id, "trustee_user_id": self.other.id,
            "project_id": self.user.project_id, "impersonation": False, "roles": [{"name": "member"}]}})
        assert r.status_code == 201, r.text
        return r.json()["trust"]["id"]

    def as_app_cred(self, method: str, path: str, **kw):
        return self.cloud.api(method, path, token=self.tok, **kw)


@pytest.fixture
def restricted(cloud, new_user):
    return Restricted(cloud, new_user)


def _ec2_blob() -> str:
    return json.dumps({"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex})


ROUTES = {
    # keystone/api/credentials.py: post() calls _check_unrestricted_application_credential for
    # type ec2, and _check_credential_project_scope for every delegated token
    "POST /v3/credentials (ec2)": lambda s: s.as_app_cred("POST", "/credentials", json={"credential": {
        "type": "ec2", "user_id": s.user.id, "project_id": s.user.project_id, "blob": _ec2_blob()}}),
    "POST /v3/credentials (no project)": lambda s: s.as_app_cred("POST", "/credentials", json={"credential": {
        "type": "cert", "user_id": s.user.id, "blob": "x"}}),
    "POST /v3/credentials (other project)": lambda s: s.as_app_cred("POST", "/credentials", json={"credential": {
        "type": "cert", "user_id": s.user.id, "project_id": s.other.project_id, "blob": "x"}}),
    # get/patch/delete: _check_credential_project_scope (credential not in the token's project)
    "GET /v3/credentials/{id}": lambda s: s.as_app_cred("GET", f"/credentials/{s.credential()}"),
    "PATCH /v3/credentials/{id}": lambda s: s.as_app_cred("PATCH", f"/credentials/{s.credential()}",
                                                           json={"credential": {"blob": "changed"}}),
    "DELETE /v3/credentials/{id}": lambda s: s.as_app_cred("DELETE", f"/credentials/{s.credential()}"),
    "GET /v3/credentials/{id} (other project)": lambda s: s.as_app_cred(
        "GET", f"/credentials/{s.credential(s.other.project_id)}"),
    # keystone/api/users.py: OS-EC2 create, application credential create and delete
    "POST /v3/users/{id}/credentials/OS-EC2": lambda s: s.as_app_cred(
        "POST", f"/users/{s.user.id}/credentials/OS-EC2", json={"tenant_id": s.user.project_id}),
    "POST /v3/users/{id}/application_credentials": lambda s: s.as_app_cred(
        "POST", f"/users/{s.user.id}/application_credentials",
        json={"application_credential": {"name": uuid.uuid4().hex[:10]}}),
    "DELETE /v3/users/{id}/application_credentials/{id}": lambda s: s.as_app_cred(
        "DELETE", f"/users/{s.user.id}/application_credentials/{_app_cred(s.cloud, s.user, s.password_tok)['id']}"),
    # keystone/api/trusts.py: _check_application_credential on every trust operation
    "POST /v3/OS-TRUST/trusts": lambda s: s.as_app_cred("POST", "/OS-TRUST/trusts", json={"trust": {
        "trustor_user_id": s.user.id, "trustee_user_id": s.other.id, "project_id": s.user.project_id,
        "impersonation": False, "roles": [{"name": "member"}]}}),
    "GET /v3/OS-TRUST/trusts": lambda s: s.as_app_cred("GET", "/OS-TRUST/trusts",
                                                        params={"trustor_user_id": s.user.id}),
    "GET /v3/OS-TRUST/trusts/{id}": lambda s: s.as_app_cred("GET", f"/OS-TRUST/trusts/{s.trust()}"),
    "DELETE /v3/OS-TRUST/trusts/{id}": lambda s: s.as_app_cred("DELETE", f"/OS-TRUST/trusts/{s.trust()}"),
    "GET /v3/OS-TRUST/trusts/{id}/roles": lambda s: s.as_app_cred("GET", f"/OS-TRUST/trusts/{s.trust()}/roles"),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_restricted_app_cred_cannot_manage_credentials_app_creds_or_trusts(restricted, route):
    """A restricted application credential (unrestricted=false, the default) may not create
    or delete application credentials nor create EC2 credentials
    (keystone/api/users.py and keystone/api/credentials.py
    _check_unrestricted_application_credential), may not touch credentials outside its
    project (credentials.py _check_credential_project_scope), and no application credential
    may use the trust API (keystone/api/trusts.py _check_application_credential,
    CVE-2026-43000): 403 in Keystone's error format, and nothing changes."""
    r = ROUTES[route](restricted)
    assert_keystone_error(r, 403)


def test_restricted_app_cred_does_not_list_credentials_outside_its_project(restricted):
    """GET /v3/credentials filters out every credential the delegated token may not see
    (credentials.py get(): _check_credential_project_scope per credential)."""
    none_id = restricted.credential()
    other_id = restricted.credential(restricted.other.project_id)
    mine = restricted.credential(restricted.user.project_id)
    r = restricted.as_app_cred("GET", "/credentials")
    assert r.status_code == 200, r.text
    ids = {c["id"] for c in r.json()["credentials"]}
    assert none_id not in ids and other_id not in ids, ids
    assert mine in ids


def test_deletes_refused_to_restricted_app_cred_leave_the_target(restricted):
    """The refused DELETEs change nothing: the trust, the other application credential and
    the credential are all still there."""
    trust_id = restricted.trust()
    other_cred = _app_cred(restricted.cloud, restricted.user, restricted.password_tok)
    cred_id = restricted.credential()
    restricted.as_app_cred("DELETE", f"/OS-TRUST/trusts/{trust_id}")
    restricted.as_app_cred("DELETE", f"/users/{restricted.user.id}/application_credentials/{other_cred['id']}")
    restricted.as_app_cred("DELETE", f"/credentials/{cred_id}")
    api = restricted.cloud.api
    tok = restricted.password_tok
    assert api("GET", f"/OS-TRUST/trusts/{trust_id}", token=tok).status_code == 200
    assert api("GET", f"/users/{restricted.user.id}/application_credentials/{other_cred['id']}",
               token=tok).status_code == 200
    assert api("GET", f"/credentials/{cred_id}", token=tok).status_code == 200


def test_unrestricted_app_cred_still_cannot_use_trusts(cloud, new_user):
    """Even an unrestricted application credential is refused the trust API
    (keystone/api/trusts.py _check_application_credential: "regardless of the
    'unrestricted' flag"), while it may create application credentials."""
    user, other = new_user("member"), new_user("member")
    cred = _app_cred(cloud, user, unrestricted=True)
    tok, _ = app_cred_token(cloud.auth_url, cred["id"], cred["secret"])
    r = cloud.api("POST", "/OS-TRUST/trusts", token=tok, json={"trust": {
        "trustor_user_id": user.id, "trustee_user_id": other.id, "project_id": user.project_id,
        "impersonation": False, "roles": [{"name": "member"}]}})
    assert_keystone_error(r, 403)
    r = cloud.api("POST", f"/users/{user.id}/application_credentials", token=tok,
                  json={"application_credential": {"name": uuid.uuid4().hex[:10]}})
    assert r.status_code == 201, r.text


# ---- lockout counts failed self-service password changes -------------------------------------

def test_failed_self_service_password_changes_lock_the_user_out(object_nimbus):
    """POST /v3/users/{id}/password authenticates the original password through the identity
    driver (keystone/identity/core.py change_password -> driver.authenticate), which records
    each failure (keystone/identity/backends/sql.py authenticate: _record_failed_auth) and
    refuses a locked user (AccountLocked, 401).  So with lockout_failure_attempts = 2, two
    wrong original passwords lock the user: the right password then fails to log in and to
    change the password, until lockout_duration passes."""
    n = object_nimbus(config={"security_compliance": {"lockout_failure_attempts": "2",
                                                      "lockout_duration": "60"}})
    admin_tok, _ = password_token_by_name(n.auth_url, "admin", n.read_password("admin"))
    password = random_password()
    r = requests.post(f"{n.auth_url}/users", headers={"X-Auth-Token": admin_tok}, timeout=30,
                      json={"user": {"name": uuid.uuid4().hex[:12], "domain_id": "default", "password": password}})
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    for _ in range(2):
        r = requests.post(f"{n.auth_url}/users/{uid}/password", timeout=30, json={
            "user": {"original_password": "wrong-" + random_password(), "password": random_password()}})
        assert r.status_code == 401, (r.status_code, r.text)
    login = requests.post(f"{n.auth_url}/auth/tokens", timeout=30, json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"id": uid, "password": password}}}}})
    assert login.status_code == 401, f"user not locked out after 2 failed password changes: {login.status_code}"
    r = requests.post(f"{n.auth_url}/users/{uid}/password", timeout=30, json={
        "user": {"original_password": password, "password": random_password()}})
    assert r.status_code == 401, (r.status_code, r.text)


def password_token_by_name(auth_url: str, name: str, password: str, project: str = "admin"):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "password": password, "domain": {"id": "default"}}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = requests.post(f"{auth_url}/auth/tokens", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"], r.json()


# ---- one encoding per token ---------------------------------------------------------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _variants(token: str) -> dict[str, str]:
    """Other spellings of the same bytes: '=' padding added, the last character changed to
    one that decodes to the same bytes (its unused low bits differ), standard alphabet."""
    out = {"padded": token + "=", "padded-2": token + "=="}
    if "-" in token or "_" in token:
        out["standard-alphabet"] = token.replace("-", "+").replace("_", "/")
    pad = "=" * (-len(token) % 4)
    try:
        want = base64.urlsafe_b64decode(token + pad)
    except Exception:
        return out
    for c in _ALPHABET:
        alt = token[:-1] + c
        if alt == token:
            continue
        try:
            if base64.urlsafe_b64decode(alt + pad) == want:
                out["last-char"] = alt
                break
        except Exception:
            pass
    return out


def test_only_the_canonical_spelling_of_a_token_is_accepted(cloud, new_user):
    """A token is accepted only as it was issued.  NOTE: Keystone's Fernet provider decodes
    with Python's lenient base64 (keystone/token/token_formatters.py restore_padding +
    base64.urlsafe_b64decode), so real Keystone would accept these spellings; the finding asks
    Nimbus to be stricter, so that a token string is one key (for caches, revocation by token
    and logs).  Each variant: 404 on validation, 401 when used."""
    user = new_user("member")
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    variants = _variants(tok)
    assert "last-char" in variants or "standard-alphabet" in variants, tok
    for kind, alt in variants.items():
        assert alt != tok
        assert validate(cloud.auth_url, cloud.admin_token(), alt) == 404, f"{kind} spelling validated"
        assert used(cloud.auth_url, alt) == 401, f"{kind} spelling authenticated"
    assert validate(cloud.auth_url, cloud.admin_token(), tok) == 200


def test_revoking_a_token_revokes_every_spelling_of_it(cloud, new_user):
    """Keystone revokes by the token's audit id, not its string (DELETE /v3/auth/tokens ->
    revoke_api.revoke_by_audit_id), so no respelling of a revoked token works."""
    user = new_user("member")
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    r = requests.delete(f"{cloud.auth_url}/auth/tokens", timeout=30,
                        headers={"X-Auth-Token": cloud.admin_token(), "X-Subject-Token": tok})
    assert r.status_code == 204, r.text
    for kind, alt in [("canonical", tok), *_variants(tok).items()]:
        assert validate(cloud.auth_url, cloud.admin_token(), alt) == 404, kind
        assert used(cloud.auth_url, alt) == 401, kind
