/// The members of a JSON object, keyed as Python's `dict` keys them: by the exact code points.
///
/// A `[String: JSONValue]` would make `{"caf\u{E9}": 1, "cafe\u{301}": 2}` one member (Swift's
/// `String` hashing is by canonical equivalence): an image with two such properties, or a
/// Keystone resource with two such extra attributes, would lose one in memory while the database
/// and OpenStack keep both. `JSONObject` reads and writes like a dictionary keyed by `String`
/// and keys by `Name` underneath. Members are written in byte order of their keys.
public struct JSONObject: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSONValue)

    public private(set) var storage: [Name: JSONValue]

    public init() { storage = [:] }
    public init(names members: [Name: JSONValue]) { storage = members }
    /// From (key, value) pairs; a later key with the same bytes wins.
    public init<S: Sequence>(pairs members: S) where S.Element == (String, JSONValue) {
        storage = [:]
        for (k, v) in members { storage[Name(k)] = v }
    }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(pairs: elements) }
    public init(_ dictionary: [String: JSONValue]) { self.init(pairs: dictionary.map { ($0.key, $0.value) }) }

    public subscript(key: String) -> JSONValue? {
        get { storage[Name(key)] }
        set { storage[Name(key)] = newValue }
    }

    public subscript(key: String, default fallback: @autoclosure () -> JSONValue) -> JSONValue {
        get { storage[Name(key)] ?? fallback() }
        set { storage[Name(key)] = newValue }
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    public var keys: [String] { storage.keys.map(\.string) }
    public var values: Dictionary<Name, JSONValue>.Values { storage.values }

    public func makeIterator() -> AnyIterator<Element> {
        var it = storage.makeIterator()
        return AnyIterator { it.next().map { ($0.key.string, $0.value) } }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? { storage.removeValue(forKey: Name(key)) }

    public func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
        JSONObject(names: try storage.filter { try isIncluded(($0.key.string, $0.value)) })
    }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        JSONObject(names: try storage.mapValues(transform))
    }

    public func compactMapValues<T>(_ transform: (JSONValue) throws -> T?) rethrows -> [Name: T] {
        try storage.compactMapValues(transform)
    }

    /// `other`'s members added, replacing those with the same key.
    public func merging(_ other: JSONObject) -> JSONObject {
        JSONObject(names: storage.merging(other.storage) { _, new in new })
    }

    public mutating func merge(_ other: JSONObject) {
        storage.merge(other.storage) { _, new in new }
    }

    public func merging(_ other: JSONObject, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        JSONObject(names: try storage.merging(other.storage, uniquingKeysWith: combine))
    }

    public mutating func merge(_ other: JSONObject, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows {
        try storage.merge(other.storage, uniquingKeysWith: combine)
    }

    /// The members in byte order of their keys (how they are written).
    public var sortedMembers: [Element] {
        storage.sorted { $0.key < $1.key }.map { ($0.key.string, $0.value) }
    }
}
