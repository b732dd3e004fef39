import Foundation
import NimbusCore

/// Glance's JSON for images and members.
enum ImageViews {
    /// Internal properties that are never shown (Glance hides `os_glance_stage_host` the same way).
    static let hidden: Set<String> = ["os_glance_staged"]

    /// Task dates: microseconds and no zone, as oslo.serialization writes them.
    static func taskDate(_ d: Date) -> JSONValue { .string(Timestamps.seconds(d).replacingOccurrences(of: "Z", with: "") + ".000000") }

    static func date(_ d: Date) -> JSONValue { .string(Timestamps.seconds(d)) }

    /// `showStores`: multi-store mode, where an image with data names its stores.
    static func image(_ i: Image, showStores: Bool) -> JSONValue {
        var o = JSONObject()
        for (k, v) in i.properties where !hidden.contains(k.string) { o[k.string] = .string(v) }
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        func opt(_ n: Int64?) -> JSONValue { n.map { .int($0) } ?? .null }
        o["name"] = opt(i.name)
        o["disk_format"] = opt(i.diskFormat)
        o["container_format"] = opt(i.containerFormat)
        o["visibility"] = .string(i.visibility.rawValue)
        o["size"] = opt(i.size)
        o["virtual_size"] = opt(i.virtualSize)
        o["status"] = .string(i.status.rawValue)
        o["checksum"] = opt(i.checksum)
        o["protected"] = .bool(i.protected)
        o["min_ram"] = .int(i.minRam)
        o["min_disk"] = .int(i.minDisk)
        o["owner"] = opt(i.owner)
        o["os_hidden"] = .bool(i.osHidden)
        o["os_hash_algo"] = opt(i.osHashAlgo)
        o["os_hash_value"] = opt(i.osHashValue)
        o["id"] = .string(i.id)
        o["created_at"] = date(i.createdAt)
        o["updated_at"] = date(i.updatedAt)
        o["tags"] = .array(i.tags.sorted().map { .string($0.string) })
        o["self"] = .string("/v2/images/\(i.id)")
        o["file"] = .string("/v2/images/\(i.id)/file")
        o["schema"] = "/v2/schemas/image"
        if showStores && !i.locations.isEmpty { o["stores"] = .string(i.stores.joined(separator: ",")) }
        return .object(o)
    }

    static func member(_ m: ImageMember) -> JSONValue {
        ["member_id": .string(m.memberID), "image_id": .string(m.imageID), "status": .string(m.status.rawValue),
         "created_at": date(m.createdAt), "updated_at": date(m.updatedAt), "schema": "/v2/schemas/member"]
    }

    static func task(_ t: ImageTask) -> JSONValue {
        ["id": .string(t.id), "type": .string(t.type), "status": .string(t.status.rawValue), "owner": t.owner.map { .string($0) } ?? .null,
         "expires_at": t.expiresAt.map(taskDate) ?? .null, "created_at": taskDate(t.createdAt), "updated_at": taskDate(t.updatedAt),
         "deleted_at": .null, "deleted": false, "image_id": .string(t.imageID), "request_id": t.requestID.map { .string($0) } ?? .null,
         "user_id": t.userID.map { .string($0) } ?? .null, "input": t.input, "result": t.result ?? .null, "message": .string(t.message)]
    }

    /// A store in `/v2/info/stores` (`detail`: as `/v2/info/stores/detail` shows it).
    static func store(_ e: ImageStores.Entry, isDefault: Bool, detail: Bool) -> JSONValue {
        var o: JSONObject = ["id": .string(e.store.id)]
        if !e.description.isEmpty { o["description"] = .string(e.description) }
        if isDefault { o["default"] = "true" }
        if detail {
            o["type"] = .string(e.type)
            o["weight"] = 0
            o["properties"] = .object([:])
        }
        return .object(o)
    }
}
