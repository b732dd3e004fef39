import Testing
@testable import NimbusCore

@Suite struct PaginationTests {
    struct Item { let id: String; let name: String }
    let items = (1...7).map { Item(id: "id\($0)", name: "n\(8 - $0)") }

    func page(_ limit: String?, _ marker: String?, keys: [String] = [], dirs: [String] = []) throws -> (page: [Item], more: Bool) {
        let r = try PageRequest(limit: limit, marker: marker, sortKeys: keys, sortDirs: dirs, allowedSortKeys: ["name", "id"], defaultSort: "id")
        return try r.apply(items, id: \.id) { item, key in key == "name" ? item.name : item.id }
    }

    @Test func walksPagesWithMarkers() throws {
        var seen = [String]()
        var marker: String?
        var more = true
        while more {
            let p = try page("3", marker)
            seen += p.page.map(\.id)
            marker = p.page.last?.id
            more = p.more
        }
        #expect(seen == items.map(\.id))
    }

    @Test func sortsByKeyAndDirection() throws {
        #expect(try page(nil, nil, keys: ["name"]).page.first?.name == "n1")
        #expect(try page(nil, nil, keys: ["name"], dirs: ["desc"]).page.first?.name == "n7")
    }

    @Test func rejectsBadInput() {
        #expect(throws: NimbusError.self) { try page("-1", nil) }
        #expect(throws: NimbusError.self) { try page("x", nil) }
        #expect(throws: NimbusError.self) { try page(nil, "missing") }
        #expect(throws: NimbusError.self) { try page(nil, nil, keys: ["password"]) }
        #expect(throws: NimbusError.self) { try page(nil, nil, keys: ["name"], dirs: ["up"]) }
    }

    @Test func nextLinkReplacesTheMarker() {
        let link = PageRequest.nextLink(baseURL: "http://h/v2/images", query: [("limit", "2"), ("marker", "old"), ("name", "a b")], lastID: "x/y")
        #expect(link == "http://h/v2/images?limit=2&name=a%20b&marker=x%2Fy")
    }
}
