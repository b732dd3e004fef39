import NimbusCore

/// Placement's error codes (`placement/errors.py`), sent in the `code` of an error from 1.23 on.
public enum PlacementErrorCode {
    public static let undefined = "placement.undefined_code"
    public static let inventoryInUse = "placement.inventory.inuse"
    public static let concurrentUpdate = "placement.concurrent_update"
    public static let duplicateName = "placement.duplicate_name"
    public static let providerInUse = "placement.resource_provider.inuse"
    public static let cannotDeleteParent = "placement.resource_provider.cannot_delete_parent"
    public static let providerNotFound = "placement.resource_provider.not_found"
    public static let duplicateQueryKey = "placement.query.duplicate_key"
    public static let queryBadValue = "placement.query.bad_value"
    public static let queryMissingValue = "placement.query.missing_value"
}

extension NimbusError {
    /// A Placement error with its code in `detail` (the renderer reads it from there; Placement's
    /// messages are safe to show, so the log detail is the code itself).
    static func placement(_ kind: Kind, _ message: String, code: String = PlacementErrorCode.undefined) -> NimbusError {
        NimbusError(kind, message, detail: code)
    }

    static func concurrentUpdate(_ message: String) -> NimbusError { .placement(.conflict, message, code: PlacementErrorCode.concurrentUpdate) }

    static let providerGenerationConflict = NimbusError.concurrentUpdate(
        "resource provider generation conflict")
}
