"""The same API through openstacksdk."""

from conftest import unique


def test_sdk_connects_and_lists(cloud):
    conn = cloud.sdk()
    try:
        assert conn.current_project_id == conn.identity.find_project("admin").id
        names = {p.name for p in conn.identity.projects()}
        assert {"admin", "demo"} <= names
        assert "identity" in {s.type for s in conn.identity.services()}
        assert conn.identity.find_domain("default").name == "Default"
    finally:
        conn.close()


def test_sdk_project_user_role(cloud):
    conn = cloud.sdk()
    try:
        project = conn.identity.create_project(name=unique("sdkproj"), domain_id="default",
                                               description="via sdk")
        user = conn.identity.create_user(name=unique("sdkuser"), password="pw-sdk-123",
                                         domain_id="default", default_project_id=project.id)
        role = conn.identity.find_role("member")
        conn.identity.assign_project_role_to_user(project, user, role)
        assert conn.identity.validate_user_has_project_role(project, user, role)
        got = conn.identity.get_project(project.id)
        assert got.description == "via sdk"

        conn.identity.update_project(project, description="changed")
        assert conn.identity.get_project(project.id).description == "changed"

        conn.identity.unassign_project_role_from_user(project, user, role)
        assert not conn.identity.validate_user_has_project_role(project, user, role)
        conn.identity.delete_user(user)
        conn.identity.delete_project(project)
        assert conn.identity.find_project(project.id) is None
    finally:
        conn.close()


def test_sdk_demo_cloud(cloud):
    conn = cloud.sdk("nimbus-demo")
    try:
        assert conn.current_project_id
        token = conn.session.get_token()
        r = cloud.api("GET", "/auth/tokens", headers={"X-Subject-Token": token})
        assert r.json()["token"]["user"]["name"] == "demo"
        assert r.json()["token"]["project"]["name"] == "demo"
    finally:
        conn.close()
