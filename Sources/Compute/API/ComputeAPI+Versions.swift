import Hummingbird
import NimbusCore
import NimbusHTTP

/// `GET /compute` (every version) and `GET /compute/v2.1` (the current one), no token needed.
extension ComputeAPI {
    func versionDocument(_ id: String, detail: Bool) -> JSONValue {
        let current = id == "v2.1"
        var links: [JSONValue] = [["rel": "self", "href": .string("\(publicURL)/\(current ? "v2.1" : "v2")/")]]
        var doc: JSONObject = [
            "id": .string(id), "status": current ? "CURRENT" : "DEPRECATED",
            "version": .string(current ? NovaVersion.maximum.description : ""),
            "min_version": .string(current ? NovaVersion.minimum.description : ""),
            "updated": current ? "2013-07-23T11:33:21Z" : "2025-07-04T12:00:00Z",
        ]
        if detail {
            links.append(["rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"])
            doc["media-types"] = [["base": "application/json",
                                   "type": .string("application/vnd.openstack.compute+json;version=\(current ? "2.1" : "2")")]]
        }
        doc["links"] = .array(links)
        return .object(doc)
    }

    func addVersionRoutes(_ t: inout RouteTable) {
        let all: JSONValue = ["versions": [versionDocument("v2.0", detail: false), versionDocument("v2.1", detail: false)]]
        let current: JSONValue = ["version": versionDocument("v2.1", detail: true)]
        t.get("/", auth: .none) { _, _ in .json(all) }
        t.get("/v2.1", auth: .none, versioned { _, _, _ in .json(current) })
        // The deprecated v2.0 is listed, so its document is served; its API (v2.1 without
        // microversions, Nova's legacy_v2 mode) is not.
        let legacy: JSONValue = ["version": versionDocument("v2.0", detail: true)]
        t.get("/v2", auth: .none) { _, _ in .json(legacy) }
    }
}
