import NimbusCore

/// Storage policies at the API: `X-Storage-Policy` on container PUT, per-policy account quotas.
extension SwiftRequest {
    var policies: StoragePolicies { service.policies }

    /// The policy a container PUT names in `X-Storage-Policy` (nil: none named, the default
    /// applies), with the proxy's 400s for an unknown or deprecated one.
    func requestedStoragePolicy() throws(NimbusError) -> StoragePolicy? {
        guard let name = headers["x-storage-policy"], !name.isEmpty else { return nil }
        guard let p = policies.named(name) else { throw .badRequest("Invalid X-Storage-Policy '\(name)'") }
        if p.isDeprecated { throw .badRequest("Storage Policy '\(p.name)' is deprecated") }
        return p
    }

    /// account_quotas.py's per-policy quotas: the request header (lower case), the response
    /// header (with the policy's name as configured) and the system metadata key (by index).
    static func policyQuotaHeaders(_ policies: StoragePolicies) -> [(header: String, display: String, key: String)] {
        policies.all.flatMap { p in
            [("Bytes", "bytes"), ("Count", "count")].map { kind in
                let display = "X-Account-Quota-\(kind.0)-Policy-\(p.name)"
                return (String(decoding: display.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self),
                        display, "x-account-sysmeta-quota-\(kind.1)-policy-\(p.index)")
            }
        }
    }
}
