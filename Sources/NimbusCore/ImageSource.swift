/// Where a disk's base image comes from (an instance's or a volume's): the image service,
/// streamed, with what it says the bytes are. The node verifies the size and checksums and inspects the format before any use.
public protocol ImageSource: Sendable {
    /// The image id (any text: it is hashed into the cache key, never used as a path).
    var id: String { get }
    /// Glance's `disk_format` (`qcow2`, `raw`, …) as recorded; the inspector must agree.
    var diskFormat: String { get }
    /// Size in bytes as recorded.
    var size: Int64 { get }
    /// MD5 (`checksum`) and SHA-512 (`os_hash_value`) as the image service recorded them, in hex.
    /// At least one must be present; every one present must match.
    var md5: String? { get }
    var sha512: String? { get }
    func bytes() async throws -> any AsyncSequence<[UInt8], any Error>
}
