/// The pax records a member uses: the fields tarfile's `_apply_pax_info` sets that bulk.py reads
/// (`path`, `size`), whether the member is a GNU sparse file, and the xattrs bulk.py turns into
/// headers (`user.mime_type`, `user.meta.*`, in GNU's and libarchive's spellings). Other records
/// (times, owners, ACLs, other xattrs) are dropped as they are read, so what a global header
/// leaves for every later member stays small.
struct PaxFields: Sendable, Equatable {
    var path: [UInt8]?
    var size: [UInt8]?
    /// `GNU.sparse.*` records: the member is a sparse file.
    var sparse = false
    /// Keyword → value, for the xattrs above.
    var xattrs: [[UInt8]: [UInt8]] = [:]
    /// More xattrs than `maxXattrs`: more metadata than any object may have (the member fails).
    var tooManyXattrs = false

    static let maxXattrs = 256
    static let mimeTypeKeys = ["SCHILY.xattr.user.mime_type", "LIBARCHIVE.xattr.user.mime_type"].map { Array($0.utf8) }
    static let metaPrefixes = ["SCHILY.xattr.user.meta.", "LIBARCHIVE.xattr.user.meta."].map { Array($0.utf8) }
    static let pathKey = Array("path".utf8), sizeKey = Array("size".utf8), sparsePrefix = Array("GNU.sparse.".utf8)

    init() {}

    /// The fields of `records`, in order (a later record of a keyword replaces an earlier one).
    init(_ records: [(key: [UInt8], value: [UInt8])]) {
        for r in records { set(r.key, r.value) }
    }

    mutating func set(_ key: [UInt8], _ value: [UInt8]) {
        if key == Self.pathKey {
            path = value
        } else if key == Self.sizeKey {
            size = value
        } else if key.starts(with: Self.sparsePrefix) {
            sparse = true
        } else if Self.mimeTypeKeys.contains(key) || Self.metaPrefixes.contains(where: { key.starts(with: $0) }) {
            if xattrs[key] == nil, xattrs.count >= Self.maxXattrs {
                tooManyXattrs = true
            } else {
                xattrs[key] = value
            }
        }
    }

    /// These fields over `lower`'s: each as this has it, else as `lower` has it.
    func over(_ lower: PaxFields) -> PaxFields {
        var out = lower
        if let path { out.path = path }
        if let size { out.size = size }
        out.sparse = out.sparse || sparse
        out.tooManyXattrs = out.tooManyXattrs || tooManyXattrs
        for (k, v) in xattrs { out.set(k, v) }
        return out
    }

    /// The bytes the fields hold.
    var byteCount: Int {
        (path?.count ?? 0) + (size?.count ?? 0) + xattrs.reduce(0) { $0 + $1.key.count + $1.value.count }
    }
}
