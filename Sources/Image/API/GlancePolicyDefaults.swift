/// Glance's default policy (`glance/policies/*.py`, secure-RBAC defaults with scope enforcement;
/// see docs/research/glance-v2.md §11). Targets carry `project_id` (the image's owner), `owner`,
/// `member_id` (the caller's project when the image is shared with it, else `None`) and
/// `visibility`. Unknown actions are admin-only.
public enum GlancePolicyDefaults {
    static let admin = "role:admin"
    static let ownerMember = "role:admin or (role:member and project_id:%(project_id)s)"
    static let anyAccess = "(project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s)"

    static let readNamespace = "role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"

    public static let rules: [String: String] = [
        "default": admin,
        "context_is_admin": admin,
        "add_image": "role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
        "get_image": "role:admin or (role:reader and \(anyAccess))",
        "get_images": "role:admin or (role:reader and project_id:%(project_id)s)",
        "modify_image": ownerMember,
        "delete_image": ownerMember,
        "publicize_image": admin,
        "communitize_image": ownerMember,
        "download_image": "role:admin or (role:member and \(anyAccess))",
        "download_from_store": "role:admin or (role:member and \(anyAccess))",
        "upload_image": ownerMember,
        "deactivate": ownerMember,
        "reactivate": ownerMember,
        "copy_image": admin,
        "get_image_location": "role:admin or (role:reader and project_id:%(project_id)s)",
        "delete_image_location": admin,
        "add_member": ownerMember,
        "delete_member": ownerMember,
        "get_member": "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
        "get_members": "role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))",
        "modify_member": "role:admin or (role:member and project_id:%(member_id)s)",
        "stores_info_detail": "role:admin or role:service",
        // Metadata definitions (glance/policies/metadef.py): reads for the namespace's project
        // and public namespaces, writes for admins.
        "metadef_default": "",
        "metadef_admin": admin,
        "get_metadef_namespace": readNamespace,
        "get_metadef_namespaces": "role:admin or (role:reader and project_id:%(project_id)s)",
        "modify_metadef_namespace": "rule:metadef_admin",
        "add_metadef_namespace": "rule:metadef_admin",
        "delete_metadef_namespace": "rule:metadef_admin",
        "get_metadef_object": readNamespace,
        "get_metadef_objects": readNamespace,
        "modify_metadef_object": "rule:metadef_admin",
        "add_metadef_object": "rule:metadef_admin",
        "delete_metadef_object": "rule:metadef_admin",
        "list_metadef_resource_types": readNamespace,
        "get_metadef_resource_type": readNamespace,
        "add_metadef_resource_type_association": "rule:metadef_admin",
        "remove_metadef_resource_type_association": "rule:metadef_admin",
        "get_metadef_property": readNamespace,
        "get_metadef_properties": readNamespace,
        "modify_metadef_property": "rule:metadef_admin",
        "add_metadef_property": "rule:metadef_admin",
        "remove_metadef_property": "rule:metadef_admin",
        "get_metadef_tag": readNamespace,
        "get_metadef_tags": readNamespace,
        "modify_metadef_tag": "rule:metadef_admin",
        "add_metadef_tag": "rule:metadef_admin",
        "add_metadef_tags": "rule:metadef_admin",
        "delete_metadef_tag": "rule:metadef_admin",
        "delete_metadef_tags": "rule:metadef_admin",
        // The deprecated tasks API (glance/policies/tasks.py).
        "tasks_api_access": admin,
    ]

    /// Every Glance rule is project-scoped: system- and domain-scoped tokens are refused.
    public static var scopeTypes: [String: Set<String>] {
        Dictionary(uniqueKeysWithValues: rules.keys.filter { !["default", "context_is_admin", "metadef_default", "metadef_admin"].contains($0) }.map { ($0, ["project"]) })
    }
}
