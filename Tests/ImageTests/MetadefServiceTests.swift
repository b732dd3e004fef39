import Foundation
import Logging
import NimbusCore
import NimbusStore
import NimbusTestSupport
import Testing
@testable import Image

struct MetadefHarness {
    let service: MetadefService
    let close: @Sendable () async -> Void

    static func make(_ engine: String) async throws -> MetadefHarness {
        let (db, close) = try await Engines.open(engine)
        try await Migrator(database: db).migrate(ImageMigrations.all)
        return MetadefHarness(service: MetadefService(repository: MetadefRepository(database: db), logger: Logger(label: "test")), close: close)
    }
}

@Suite struct MetadefServiceTests {
    static let admin = ImageCaller(projectID: "p-admin", isAdmin: true)
    static let alice = ImageCaller(projectID: "p-alice", isAdmin: false)
    static let bob = ImageCaller(projectID: "p-bob", isAdmin: false)

    @Test(arguments: Engines.available)
    func standardDefinitionsLoadOnceAndStayDeleted(engine: String) async throws {
        let h = try await MetadefHarness.make(engine)
        defer { Task { await h.close() } }
        let first = try await h.service.loadStandardDefinitions()
        #expect(first == GlanceStandardMetadefs.files.count)
        #expect(try await h.service.loadStandardDefinitions() == 0)
        let all = try await h.service.repository.namespaces(visibleTo: Self.admin, resourceTypes: nil)
        #expect(all.count == first)
        let pinning = try await h.service.namespace("OS::Compute::CPUPinning", caller: Self.alice)
        #expect(pinning.protected && pinning.visibility == "public")
        let c = try await h.service.contents(pinning, resourceType: "OS::Nova::Flavor")
        #expect(c.properties.map(\.name).sorted() == ["hw:cpu_policy", "hw:cpu_thread_policy"])
        let types = try await h.service.repository.resourceTypes().map(\.name)
        #expect(types.contains("OS::Glance::Image") && types.contains("OS::Nova::Flavor"))
        // An admin's deletion is not undone by the next start.
        var ns = pinning
        ns.protected = false
        try await h.service.repository.update(ns)
        try await h.service.delete(ns)
        #expect(try await h.service.loadStandardDefinitions() == 0)
        await #expect(throws: NimbusError.self) { try await h.service.namespace("OS::Compute::CPUPinning", caller: Self.admin) }
    }

    @Test(arguments: Engines.available)
    func privateNamespacesAreInvisibleToOtherProjects(engine: String) async throws {
        let h = try await MetadefHarness.make(engine)
        defer { Task { await h.close() } }
        _ = try await h.service.create(["namespace": "alice-ns", "visibility": "private", "owner": "p-alice"], caller: Self.admin)
        _ = try await h.service.create(["namespace": "pub-ns", "visibility": "public"], caller: Self.admin)
        #expect(try await h.service.namespace("alice-ns", caller: Self.alice).owner == "p-alice")
        await #expect(throws: NimbusError.self) { try await h.service.namespace("alice-ns", caller: Self.bob) }
        let bobSees = try await h.service.list(MetadefService.Listing(), caller: Self.bob).page.map(\.namespace)
        #expect(bobSees == ["pub-ns"])
        let l = try MetadefService.Listing(query: [("sort_key", "namespace"), ("sort_dir", "asc")])
        #expect(try await h.service.list(l, caller: Self.alice).page.map(\.namespace) == ["alice-ns", "pub-ns"])
    }

    @Test(arguments: Engines.available)
    func namesDifferingOnlyByNormalizationAreTwoNamespaces(engine: String) async throws {
        let h = try await MetadefHarness.make(engine)
        defer { Task { await h.close() } }
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        _ = try await h.service.create(["namespace": .string(composed)], caller: Self.admin)
        _ = try await h.service.create(["namespace": .string(decomposed)], caller: Self.admin)
        let a = try await h.service.namespace(composed, caller: Self.admin)
        let b = try await h.service.namespace(decomposed, caller: Self.admin)
        #expect(a.id != b.id)
        #expect(a.namespace.sameBytes(as: composed) && b.namespace.sameBytes(as: decomposed))
        // Objects and tags in one namespace, too.
        _ = try await h.service.createObject(a, body: ["name": .string(composed)])
        _ = try await h.service.createObject(a, body: ["name": .string(decomposed)])
        #expect(try await h.service.repository.objects(a.id).count == 2)
        _ = try await h.service.createTags(a, body: ["tags": [["name": .string(composed)], ["name": .string(decomposed)]]], append: false)
        #expect(try await h.service.repository.tags(a.id).count == 2)
    }

    @Test(arguments: Engines.available)
    func duplicatesConflictAndProtectionForbids(engine: String) async throws {
        let h = try await MetadefHarness.make(engine)
        defer { Task { await h.close() } }
        _ = try await h.service.create(["namespace": "n", "protected": true, "properties": ["p": ["title": "P", "type": "string"]]], caller: Self.admin)
        let dup = await #expect(throws: NimbusError.self) { _ = try await h.service.create(["namespace": "n"], caller: Self.admin) }
        #expect(dup?.kind == .conflict && dup?.message == "The metadata definition namespace=n already exists.")
        let ns = try await h.service.namespace("n", caller: Self.admin)
        await #expect(throws: NimbusError.self) { _ = try await h.service.createProperty(ns, body: ["name": "p", "title": "P", "type": "string"]) }
        await #expect(throws: NimbusError.self) { try await h.service.delete(ns) }
        await #expect(throws: NimbusError.self) { try await h.service.deleteProperty(ns, "p") }
        // PUT without `protected` unprotects (Glance's PUT replaces), then delete works.
        let open = try await h.service.update(ns, body: ["namespace": "n"], caller: Self.admin)
        #expect(!open.protected && open.visibility == "private")
        try await h.service.delete(open)
        await #expect(throws: NimbusError.self) { try await h.service.namespace("n", caller: Self.admin) }
    }

    @Test func inputIsCheckedAsGlanceSchemasCheckIt() throws {
        let now = Date()
        #expect(throws: NimbusError.self) { try MetadefInput.contents(["namespace": .string(String(repeating: "x", count: 81))], owner: nil, now: now) }
        #expect(throws: NimbusError.self) { try MetadefInput.contents(["namespace": "n", "visibility": "shared"], owner: nil, now: now) }
        #expect(throws: NimbusError.self) { try MetadefInput.contents(["namespace": "n", "self": "x"], owner: nil, now: now) }
        #expect(throws: NimbusError.self) { try MetadefInput.definition(["title": "t"], schema: "property") }
        #expect(throws: NimbusError.self) { try MetadefInput.definition(["title": "t", "type": "str"], schema: "property") }
        #expect(throws: NimbusError.self) { try MetadefInput.definition(["title": "t", "type": "string", "minLength": -1], schema: "property") }
        let many = JSONObject(pairs: (0...MetadefLimits.itemsPerNamespace).map { ("p\($0)", JSONValue.object(["title": "t", "type": "string"])) })
        #expect(throws: NimbusError.self) { try MetadefInput.contents(["namespace": "n", "properties": .object(many)], owner: nil, now: now) }
        let d = try MetadefInput.definition(["title": "t", "type": "string", "unknown": 1, "enum": ["a"]], schema: "property")
        #expect(d["unknown"] == nil && d["enum"] == ["a"])
    }

    @Test func taskRequestsAreCheckedAsGlanceChecksThem() async throws {
        let h = try await ImageHarness.make("sqlite")
        defer { Task { await h.cleanup() } }
        let s = h.service
        #expect((#expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "import"]) })?.message == "Task 'input' is required")
        #expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "bogus", "input": [:]]) }
        #expect((#expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "import", "input": ["image_properties": [:]]]) })?.message == "Invalid location: None")
        #expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "import", "input": ["import_from": "file:///etc/passwd"]]) }
        #expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "import", "input": ["import_from": "gopher://x/"]]) }
        // No fetcher configured: URL imports do not pass filtering.
        #expect(throws: NimbusError.self) { try s.checkLegacyTask(["type": "import", "input": ["import_from": "http://example.com/x.qcow2"]]) }
        #expect(throws: NimbusError.self) { try ImageService.TaskListing(query: [("status", "done")]) }
        #expect(throws: NimbusError.self) { try ImageService.TaskListing(query: [("marker", "x")]) }
    }
}
