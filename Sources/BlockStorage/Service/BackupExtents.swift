import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// The pure part of the chunked backup: hashing a chunk block by block and deciding which runs
/// of blocks become objects. Kept apart from the I/O so the tests are tables.
public enum BackupExtents {
    /// The runs of blocks that `needed` marks, in order; runs separated by fewer than
    /// `mergeGap` unneeded blocks are joined (one larger object instead of many small ones;
    /// the blocks in between are stored again, which a restore writes back unchanged).
    public static func runs(_ needed: [Bool], mergeGap: Int) -> [Range<Int>] {
        var out = [Range<Int>]()
        var i = 0
        while i < needed.count {
            guard needed[i] else { i += 1; continue }
            var end = i + 1
            while end < needed.count, needed[end] { end += 1 }
            if let last = out.last, i - last.upperBound < mergeGap {
                out[out.count - 1] = last.lowerBound..<end
            } else {
                out.append(i..<end)
            }
            i = end
        }
        return out
    }

    static let zeros = [UInt8](repeating: 0, count: 1 << 16)

    /// Whether every byte of `bytes` is zero (`memcmp` against zeros: as fast in a debug build).
    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        return zeros.withUnsafeBytes { z in
            var i = 0
            while i < bytes.count {
                let n = min(z.count, bytes.count - i)
                if memcmp(base + i, z.baseAddress!, n) != 0 { return false }
                i += n
            }
            return true
        }
    }

    /// The SHA-256 of each `blockSize` block of `chunk` (the last may be shorter), 32 bytes
    /// each, and which blocks are all zeros. A zero block's digest is `zeroDigest` (computed
    /// once), so a sparse volume costs a scan rather than a hash.
    public static func digests(_ chunk: [UInt8], blockSize: Int, zeroDigest: [UInt8]) -> (digests: [UInt8], zero: [Bool]) {
        let blocks = (chunk.count + blockSize - 1) / blockSize
        var digests = [UInt8]()
        digests.reserveCapacity(blocks * 32)
        var zero = [Bool]()
        zero.reserveCapacity(blocks)
        chunk.withUnsafeBytes { raw in
            for b in 0..<blocks {
                let start = b * blockSize
                let block = UnsafeRawBufferPointer(rebasing: raw[start..<min(raw.count, start + blockSize)])
                if block.count == blockSize, isZero(block) {
                    digests += zeroDigest
                    zero.append(true)
                } else {
                    digests += Array(SHA256.hash(data: block))
                    zero.append(false)
                }
            }
        }
        return (digests, zero)
    }

    /// Which blocks differ from the parent's digests (`parent` holds 32 bytes per block for the
    /// same blocks; a block past its end is new).
    public static func changed(_ digests: [UInt8], parent: [UInt8]) -> [Bool] {
        let blocks = digests.count / 32
        return (0..<blocks).map { b in
            let r = (b * 32)..<(b * 32 + 32)
            guard r.upperBound <= parent.count else { return true }
            return !digests[r].elementsEqual(parent[r])
        }
    }
}
