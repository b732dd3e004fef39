import NimbusCore

/// Placement's request body schemas (`placement/schemas/*.py`), by microversion.
enum PlacementSchemas {
    static let maxInt: Double = 2_147_483_647
    static let floatMax: Double = 3.40282e38

    static func isClassOrTrait(_ s: String) -> Bool { !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F } }
    static func isCustom(_ s: String) -> Bool { s.hasBytePrefix("CUSTOM_") && s.utf8.count > 7 && isClassOrTrait(s) }
    static func isUUIDPattern(_ s: String) -> Bool {
        s.utf8.count == 36 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) || $0 == 0x2D }
    }
    static func isGroupSuffix(_ s: String) -> Bool {
        let n = s.utf8.count
        return n >= 1 && n <= 64 && s.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
    }

    static let groupPattern133 = "[a-zA-Z0-9_-]{1,64}"
    static let rcPattern = "^[A-Z0-9_]+$"
    static let uuidPattern = "^[0-9a-fA-F-]{36}$"
    static let customPattern = "^CUSTOM_[A-Z0-9_]+$"

    static let integer = JSONSchema(type: ["integer"])
    static let uuidString = JSONSchema(type: ["string"], format: "uuid")

    // MARK: resource providers

    static let postProvider = JSONSchema(type: ["object"], properties: [
        ("name", JSONSchema(type: ["string"], maxLength: 200)), ("uuid", uuidString),
    ], additionalProperties: false, required: ["name"])
    static let putProvider = postProvider.with(removing: ["uuid"])
    static let parentUUID = JSONSchema(type: ["string", "null"], format: "uuid")
    static let postProvider114 = postProvider.with(properties: [("parent_provider_uuid", parentUUID)])
    static let putProvider114 = postProvider114.with(removing: ["uuid"])

    // MARK: inventories

    static let inventoryFields: [(String, JSONSchema)] = [
        ("resource_provider_generation", integer),
        ("total", JSONSchema(type: ["integer"], minimum: 1, maximum: maxInt)),
        ("reserved", JSONSchema(type: ["integer"], minimum: 0, maximum: maxInt)),
        ("min_unit", JSONSchema(type: ["integer"], minimum: 1, maximum: maxInt)),
        ("max_unit", JSONSchema(type: ["integer"], minimum: 1, maximum: maxInt)),
        ("step_size", JSONSchema(type: ["integer"], minimum: 1, maximum: maxInt)),
        ("allocation_ratio", JSONSchema(type: ["number"], maximum: floatMax)),
    ]
    static let baseInventory = JSONSchema(type: ["object"], properties: inventoryFields, additionalProperties: false,
                                          required: ["total", "resource_provider_generation"])
    static let postInventory = baseInventory.with(properties: [("resource_class", JSONSchema(type: ["string"], pattern: (rcPattern, isClassOrTrait)))],
                                                  required: ["total", "resource_class"])
    static let putInventoryRecord = baseInventory.with(required: ["total"])
    static let putInventories = JSONSchema(type: ["object"], properties: [
        ("resource_provider_generation", integer),
        ("inventories", JSONSchema(type: ["object"], patternProperties: [(rcPattern, isClassOrTrait, putInventoryRecord)])),
    ], additionalProperties: false, required: ["resource_provider_generation", "inventories"])

    // MARK: traits, classes, aggregates

    static let trait = JSONSchema(type: ["string"], minLength: 1, maxLength: 255)
    static let providerTraits = JSONSchema(type: ["object"], properties: [
        ("traits", JSONSchema(type: ["array"], items: trait)), ("resource_provider_generation", integer),
    ], additionalProperties: false, required: ["traits", "resource_provider_generation"])
    static let resourceClass = JSONSchema(type: ["object"], properties: [
        ("name", JSONSchema(type: ["string"], maxLength: 255, pattern: (customPattern, isCustom))),
    ], additionalProperties: false, required: ["name"])
    static let aggregateList = JSONSchema(type: ["array"], items: uuidString, uniqueItems: true)
    static let aggregates119 = JSONSchema(type: ["object"], properties: [
        ("aggregates", aggregateList), ("resource_provider_generation", integer),
    ], additionalProperties: false, required: ["aggregates", "resource_provider_generation"])

    // MARK: allocations

    static let amounts = JSONSchema(type: ["object"], patternProperties: [(rcPattern, isClassOrTrait, JSONSchema(type: ["integer"], minimum: 1))],
                                    additionalProperties: false, minProperties: 1)
    static let allocationList = JSONSchema(type: ["object"], properties: [
        ("allocations", JSONSchema(type: ["array"], items: JSONSchema(type: ["object"], properties: [
            ("resource_provider", JSONSchema(type: ["object"], properties: [("uuid", uuidString)], additionalProperties: false, required: ["uuid"])),
            ("resources", amounts),
        ], additionalProperties: false, required: ["resource_provider", "resources"]), minItems: 1)),
    ], additionalProperties: false, required: ["allocations"])
    static let idString = JSONSchema(type: ["string"], minLength: 1, maxLength: 255)
    static let allocationList18 = allocationList.with(properties: [("project_id", idString), ("user_id", idString)],
                                                      required: ["allocations", "project_id", "user_id"])
    static func allocationMap(min: Int) -> JSONSchema {
        JSONSchema(type: ["object"], patternProperties: [(uuidPattern, isUUIDPattern, JSONSchema(type: ["object"], properties: [
            ("generation", integer), ("resources", amounts),
        ], additionalProperties: false, required: ["resources"]))], additionalProperties: false, minProperties: min)
    }
    static let allocations112 = JSONSchema(type: ["object"], properties: [
        ("allocations", allocationMap(min: 1)), ("project_id", idString), ("user_id", idString),
    ], additionalProperties: false, required: ["allocations", "project_id", "user_id"])
    static let deletable = allocations112.with(properties: [("allocations", allocationMap(min: 0))])
    static let consumerGeneration = JSONSchema(type: ["integer", "null"])
    static let allocations128 = deletable.with(properties: [("consumer_generation", consumerGeneration)],
                                               required: ["allocations", "project_id", "user_id", "consumer_generation"])
    static let mappings = JSONSchema(type: ["object"], patternProperties: [
        ("[a-zA-Z0-9_-]{1,64}", isGroupSuffix, JSONSchema(type: ["array"], items: uuidString, minItems: 1)),
    ], minProperties: 1)
    static let allocations134 = allocations128.with(properties: [("mappings", mappings)])
    static let consumerType = JSONSchema(type: ["string"], minLength: 1, maxLength: 255, pattern: (rcPattern, isClassOrTrait))
    static let allocations138 = allocations134.with(properties: [("consumer_type", consumerType)],
                                                    required: ["allocations", "project_id", "user_id", "consumer_generation", "consumer_type"])

    static func postAllocations(_ one: JSONSchema, min: Int = 1) -> JSONSchema {
        JSONSchema(type: ["object"], patternProperties: [(uuidPattern, isUUIDPattern, one)], additionalProperties: false, minProperties: min)
    }

    /// PUT /allocations/{consumer} by microversion.
    static func putAllocations(_ v: Microversion) -> JSONSchema {
        if v.atLeast(38) { return allocations138 }
        if v.atLeast(34) { return allocations134 }
        if v.atLeast(28) { return allocations128 }
        if v.atLeast(12) { return allocations112 }
        if v.atLeast(8) { return allocationList18 }
        return allocationList
    }

    /// POST /allocations (1.13+) by microversion.
    static func postAllocations(_ v: Microversion, min: Int = 1) -> JSONSchema {
        if v.atLeast(38) { return postAllocations(allocations138, min: min) }
        if v.atLeast(34) { return postAllocations(allocations134, min: min) }
        if v.atLeast(28) { return postAllocations(allocations128, min: min) }
        return postAllocations(deletable, min: min)
    }

    static func reshaper(_ v: Microversion) -> JSONSchema {
        JSONSchema(type: ["object"], properties: [
            ("inventories", JSONSchema(type: ["object"], patternProperties: [(uuidPattern, isUUIDPattern, putInventories)],
                                       additionalProperties: false, minProperties: 1)),
            ("allocations", postAllocations(v.atLeast(34) ? v : Microversion(1, 28), min: 0)),
        ], additionalProperties: false, required: ["inventories", "allocations"])
    }
}
