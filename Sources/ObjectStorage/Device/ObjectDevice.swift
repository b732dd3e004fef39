import Foundation
import NIOCore
import NimbusCore

/// What an object file carries besides its bytes: enough to audit it, to replicate it and to
/// rebuild the index entry (name, timestamp, size, MD5 and the object's metadata headers).
public struct DiskMetadata: Sendable, Equatable {
    public var name: String
    public var timestamp: String
    public var size: Int
    public var etag: String
    public var headers: [String: String]

    public init(name: String, timestamp: String, size: Int, etag: String, headers: [String: String]) {
        self.name = name; self.timestamp = timestamp; self.size = size; self.etag = etag; self.headers = headers
    }

    func encoded() -> [UInt8] {
        var h = JSONObject()
        for (k, v) in headers { h[k] = .string(v) }
        let json: JSONValue = ["name": .string(name), "timestamp": .string(timestamp), "size": .int(Int64(size)), "etag": .string(etag), "headers": .object(h)]
        return json.serialized()
    }

    static func decode(_ bytes: some Collection<UInt8>) -> DiskMetadata? {
        guard let v = try? JSONValue.parse(Array(bytes)), case .object(let o) = v,
              case .string(let name)? = o["name"], case .string(let ts)? = o["timestamp"],
              case .int(let size)? = o["size"], case .string(let etag)? = o["etag"] else { return nil }
        var headers = [String: String]()
        if case .object(let h)? = o["headers"] { for (k, v) in h { if case .string(let s) = v { headers[k] = s } } }
        return DiskMetadata(name: name, timestamp: ts, size: Int(size), etag: etag, headers: headers)
    }
}

/// The files a device holds for one object hash: the `.data` timestamps (normally one) and the
/// newest `.meta` (metadata written by POST after the data).
public struct HashState: Sendable, Equatable, Codable {
    public var data: [String]
    public var meta: [String]
    public init(data: [String] = [], meta: [String] = []) { self.data = data; self.meta = meta }
}

/// A stream of an object's bytes (or of a range of them) from one replica.
public protocol ObjectReadStream: AnyObject, Sendable {
    var metadata: DiskMetadata { get }
    /// Bytes this stream yields (the range's length, or the whole size).
    var length: Int { get }
    func next() async throws -> ByteBuffer?
    func close() async
}

/// An object being written to one replica: bytes, then `commit`, which makes it durable
/// (file and directory fsync'd) before returning.
public protocol ObjectWriter: AnyObject, Sendable {
    func write(_ chunk: ByteBuffer) async throws
    func commit(_ metadata: DiskMetadata) async throws
    func abort() async
}

/// Which files of a hash directory to delete.
public enum Removal: Sendable, Equatable {
    /// Every file with a timestamp before this one (superseded or deleted versions).
    case olderThan(String)
    /// The files of exactly this timestamp (a failed or losing write).
    case timestamp(String)
    /// These file names (the replicator's decisions).
    case files([String])

    func matches(_ file: String) -> Bool {
        let ts = file.hasSuffix(".data") || file.hasSuffix(".meta") ? String(file.dropLast(5)) : file
        switch self {
        case .olderThan(let t): return ts < t
        case .timestamp(let t): return ts == t
        case .files(let names): return names.contains(file)
        }
    }
}

public enum ReplicaError: Error, Sendable {
    /// The replica does not have this object (or this version of it).
    case notFound
    /// The replica's bytes do not match their checksum; it has been quarantined.
    case corrupt
    /// The device or node cannot be reached or failed.
    case unavailable(String)
}

/// One storage device. `LocalDevice` is a directory on this machine; `RemoteDevice` is a device
/// of a `nimbus storage` node, spoken to over HTTP. The proxy, the replicator and the auditor
/// only see this protocol.
public protocol ObjectDevice: Sendable {
    var ring: RingDevice { get }
    func writer(partition: Int, hash: String, timestamp: String) async throws -> any ObjectWriter
    /// Opens the `.data` file of `timestamp`. Whole-object reads of objects up to
    /// `verifyLimit` bytes are checked against their MD5 before this returns (a bad copy is
    /// quarantined and `ReplicaError.corrupt` thrown); larger whole reads are checked as they
    /// stream and fail at the end.
    func read(partition: Int, hash: String, timestamp: String, range: Range<Int>?) async throws -> any ObjectReadStream
    /// Writes a `.meta` file (metadata set by POST), durably.
    func writeMeta(partition: Int, hash: String, metadata: DiskMetadata) async throws
    /// Deletes files of `hash` (`.data` and `.meta`) chosen by timestamp or by name.
    func remove(partition: Int, hash: String, _ which: Removal) async throws
    /// The hashes of a partition and their files.
    func list(partition: Int) async throws -> [String: HashState]
    /// The partitions that have a directory on this device.
    func partitions() async throws -> [Int]
    /// Reads a `.meta` file's metadata.
    func readMeta(partition: Int, hash: String, timestamp: String) async throws -> DiskMetadata
    /// Checks every `.data` file against its checksum, quarantining bad ones, at most
    /// `bytesPerSecond`; returns (files checked, files quarantined).
    func audit(bytesPerSecond: Int) async throws -> (checked: Int, quarantined: Int)
}

/// Objects up to this size are verified against their MD5 before the first byte is served.
public let verifyLimit = 4 * 1024 * 1024
