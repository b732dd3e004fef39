"""Adversarial review (second probe) of Identity: what the fixes of issues 13/14 left open.

Each test fails on the binary built from main after those fixes and states what Keystone
does, with the file it comes from (openstack/keystone, master).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from adversarial_support import (TIMEOUT, app_cred_token, assert_keystone_error, password_token,
                                  trust_token)


def _app_cred(cloud, user, token: str, **fields) -> dict:
    body = {"application_credential": {"name": uuid.uuid4().hex[:12], **fields}}
    r = cloud.api("POST", f"/users/{user.id}/application_credentials", token=token, json=body)
    assert r.status_code == 201, r.text
    return r.json()["application_credential"]


def _app_cred_auth(cloud, cred: dict) -> requests.Response:
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": cred["id"], "secret": cred["secret"]}}}}
    return requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=TIMEOUT)


# ---- application credentials outlive what Keystone deletes them with -----------------------

def test_disabling_a_user_deletes_their_application_credentials(cloud, new_user):
    """keystone/application_credential/core.py registers
    `_delete_app_creds_on_user_delete_callback` for ACTIONS.deleted *and* ACTIONS.disabled on
    'user': disabling a user deletes every application credential they own.  An operator who
    disables a compromised account, resets its password and enables it again has therefore
    removed the intruder's application credentials too.  Nimbus keeps them: after the
    re-enable, the old application credential still authenticates (201)."""
    user = new_user("member")
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    cred = _app_cred(cloud, user, tok)
    assert _app_cred_auth(cloud, cred).status_code == 201
    assert cloud.api("PATCH", f"/users/{user.id}", json={"user": {"enabled": False}}).status_code == 200
    assert cloud.api("PATCH", f"/users/{user.id}", json={"user": {"enabled": True}}).status_code == 200
    r = cloud.api("GET", f"/users/{user.id}/application_credentials/{cred['id']}")
    assert r.status_code == 404, f"application credential survived the disable: {r.status_code} {r.text[:200]}"
    assert _app_cred_auth(cloud, cred).status_code == 401


def test_deleting_a_role_deletes_application_credentials_of_its_holders(cloud, new_user):
    """keystone/assignment/core.py RoleManager.delete_role calls
    `_send_app_cred_notification_for_role_removal(role_id)`: for every user/project assignment
    of the role, REMOVE_APP_CREDS_FOR_USER deletes the user's application credentials on that
    project (application_credential/core.py `_delete_app_creds_on_assignment_removal`).
    Nimbus keeps them."""
    role = cloud.api("POST", "/roles", json={"role": {"name": f"adv-{uuid.uuid4().hex[:8]}"}}).json()["role"]
    user = new_user("member")
    assert cloud.api("PUT", f"/projects/{user.project_id}/users/{user.id}/roles/{role['id']}").status_code in (200, 204)
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    cred = _app_cred(cloud, user, tok, roles=[{"name": "member"}])
    assert cloud.api("DELETE", f"/roles/{role['id']}").status_code == 204
    r = cloud.api("GET", f"/users/{user.id}/application_credentials/{cred['id']}")
    assert r.status_code == 404, f"application credential survived the role's deletion: {r.status_code}"
    assert _app_cred_auth(cloud, cred).status_code == 401


# ---- token method ------------------------------------------------------------------------------

def _system_token(cloud) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": cloud.admin_password, "domain": {"name": "Default"}}}},
        "scope": {"system": {"all": True}}}}
    r = requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


@pytest.mark.parametrize("scope", ["project", "domain"])
def test_system_scoped_token_cannot_be_rescoped_to_a_project_or_domain(cloud, scope):
    """keystone/auth/plugins/token.py token_authenticate: `elif token.system_scoped and
    (project_scoped or domain_scoped): raise ForbiddenAction('Using a system-scoped token to
    create a project-scoped or domain-scoped token is not allowed.')` -> 403.  Nimbus issues
    the project- or domain-scoped token (201): whoever holds only a system token (a service,
    a leaked token) gets project and domain tokens without the password."""
    sys_tok = _system_token(cloud)
    target = ({"project": {"name": "admin", "domain": {"name": "Default"}}} if scope == "project"
              else {"domain": {"id": "default"}})
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": sys_tok}}, "scope": target}}
    r = requests.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=TIMEOUT)
    assert_keystone_error(r, 403)


def test_rescoped_token_keeps_the_original_audit_chain_id(cloud, new_user):
    """token.py token_authenticate: `token_audit_id = token.parent_audit_id or
    token.audit_id` -- a token made from a rescoped token carries the chain id of the
    *original* token as its second audit id, so the whole chain shares one audit_chain_id
    (what `revoke_by_audit_chain_id` and audit tooling follow).  Nimbus puts the immediate
    parent's own audit id there, so the chain breaks after one rescope."""
    user = new_user("member")
    r = requests.post(f"{cloud.auth_url}/auth/tokens", timeout=TIMEOUT, json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"id": user.id, "password": user.password}}}}})
    assert r.status_code == 201, r.text
    original, original_audit = r.headers["X-Subject-Token"], r.json()["token"]["audit_ids"]
    assert len(original_audit) == 1

    def rescope(tok):
        r = requests.post(f"{cloud.auth_url}/auth/tokens", timeout=TIMEOUT, json={"auth": {
            "identity": {"methods": ["token"], "token": {"id": tok}},
            "scope": {"project": {"id": user.project_id}}}})
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"], r.json()["token"]["audit_ids"]

    first, first_audit = rescope(original)
    assert first_audit[1] == original_audit[0]
    _, second_audit = rescope(first)
    assert second_audit[1] == original_audit[0], (original_audit, first_audit, second_audit)


# ---- EC2 credential blobs ----------------------------------------------------------------------

def test_ec2_credential_patch_cannot_change_its_trust_id(cloud, new_user):
    """keystone/api/credentials.py CredentialResource.patch -> _validate_blob_update_keys: for
    an ec2 credential, `trust_id`, `app_cred_id`, `access_token_id` and `access_id` in the
    blob may not be changed or unset ("%s can not be updated for credential", 400).  These
    keys are what bind an EC2 key pair made through a delegation to that delegation; Nimbus
    lets the owner rewrite them (200)."""
    user = new_user("member")
    tok, _ = password_token(cloud.auth_url, user.id, user.password, user.project_id)
    access = uuid.uuid4().hex
    blob = json.dumps({"access": access, "secret": "s", "trust_id": "0" * 32})
    r = cloud.api("POST", "/credentials", token=tok, json={"credential": {
        "type": "ec2", "user_id": user.id, "project_id": user.project_id, "blob": blob}})
    assert r.status_code == 201, r.text
    cid = r.json()["credential"]["id"]
    r = cloud.api("PATCH", f"/credentials/{cid}", token=tok, json={"credential": {
        "blob": json.dumps({"access": access, "secret": "s"})}})
    assert_keystone_error(r, 400)
    stored = json.loads(cloud.api("GET", f"/credentials/{cid}", token=tok).json()["credential"]["blob"])
    assert stored.get("trust_id") == "0" * 32, stored
