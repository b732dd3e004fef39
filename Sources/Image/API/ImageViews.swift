import Foundation
import NimbusCore

/// Glance's JSON for images and members.
enum ImageViews {
    /// Internal properties that are never shown (Glance hides `os_glance_stage_host` the same way).
    static let hidden: Set<String> = ["os_glance_staged"]

    static func date(_ d: Date) -> JSONValue { .string(Timestamps.seconds(d)) }

    static func image(_ i: Image) -> JSONValue {
        var o = [String: JSONValue]()
        for (k, v) in i.properties where !hidden.contains(k) { o[k] = .string(v) }
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
        o["tags"] = .array(i.tags.sorted().map { .string($0) })
        o["self"] = .string("/v2/images/\(i.id)")
        o["file"] = .string("/v2/images/\(i.id)/file")
        o["schema"] = "/v2/schemas/image"
        return .object(o)
    }

    static func member(_ m: ImageMember) -> JSONValue {
        ["member_id": .string(m.memberID), "image_id": .string(m.imageID), "status": .string(m.status.rawValue),
         "created_at": date(m.createdAt), "updated_at": date(m.updatedAt), "schema": "/v2/schemas/member"]
    }
}
