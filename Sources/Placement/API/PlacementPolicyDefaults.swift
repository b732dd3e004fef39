/// Placement's default policy (`placement/policies/*.py`, secure-RBAC defaults with scope
/// enforcement): admin or service everywhere, except project readers reading their own
/// project's usages; the reshaper is for services only.
public enum PlacementPolicyDefaults {
    static let adminOrService = "rule:admin_or_service_api"

    static let actions: [String] = [
        "placement:resource_providers:list", "placement:resource_providers:create", "placement:resource_providers:show",
        "placement:resource_providers:update", "placement:resource_providers:delete",
        "placement:resource_providers:inventories:list", "placement:resource_providers:inventories:create",
        "placement:resource_providers:inventories:show", "placement:resource_providers:inventories:update",
        "placement:resource_providers:inventories:delete",
        "placement:resource_providers:aggregates:list", "placement:resource_providers:aggregates:update",
        "placement:resource_providers:traits:list", "placement:resource_providers:traits:update",
        "placement:resource_providers:traits:delete",
        "placement:resource_providers:allocations:list", "placement:resource_providers:usages",
        "placement:resource_classes:list", "placement:resource_classes:create", "placement:resource_classes:show",
        "placement:resource_classes:update", "placement:resource_classes:delete",
        "placement:traits:list", "placement:traits:show", "placement:traits:update", "placement:traits:delete",
        "placement:allocations:manage", "placement:allocations:list", "placement:allocations:update", "placement:allocations:delete",
        "placement:allocation_candidates:list",
    ]

    public static let rules: [String: String] = {
        var r: [String: String] = [
            "admin_api": "role:admin",
            "service_api": "role:service",
            "admin_or_service_api": "role:admin or role:service",
            "project_reader_api": "role:reader and project_id:%(project_id)s",
            "admin_or_project_reader_or_service_api": "role:admin or rule:project_reader_api or role:service",
            "placement:usages": "rule:admin_or_project_reader_or_service_api",
            "placement:reshaper:reshape": "rule:service_api",
        ]
        for a in actions { r[a] = adminOrService }
        return r
    }()

    /// Every rule but `project_reader_api` is project-scoped, as in Placement.
    public static var scopeTypes: [String: Set<String>] {
        Dictionary(uniqueKeysWithValues: rules.keys.filter { $0 != "project_reader_api" }.map { ($0, ["project"]) })
    }
}
