/// A set of addresses of one IP version, as netaddr's `IPSet` that Neutron's subnet pools are
/// computed with: sorted, disjoint, non-adjacent inclusive ranges of 128-bit numbers. Every
/// operation walks the ranges, never the addresses, so a /8 or a /32 of IPv6 costs what a /24
/// does: the work is bounded by the number of prefixes and subnets involved.
public struct PrefixSet: Sendable, Equatable {
    public let version: Int
    /// Sorted by `lower`, disjoint and never adjacent (merged).
    public private(set) var ranges: [ClosedRange<UInt128>]

    public init(version: Int, networks: [IPNetwork] = []) {
        self.version = version
        self.ranges = Self.merged(networks.filter { $0.version == version }.map { $0.network.value...$0.broadcast.value })
    }

    init(version: Int, ranges: [ClosedRange<UInt128>]) {
        self.version = version
        self.ranges = Self.merged(ranges)
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Sorts and joins overlapping or adjacent ranges.
    static func merged(_ input: [ClosedRange<UInt128>]) -> [ClosedRange<UInt128>] {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var out = [ClosedRange<UInt128>]()
        out.reserveCapacity(sorted.count)
        for r in sorted {
            if let last = out.last, last.upperBound == UInt128.max || r.lowerBound <= last.upperBound + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    public func union(_ other: PrefixSet) -> PrefixSet {
        PrefixSet(version: version, ranges: ranges + (other.version == version ? other.ranges : []))
    }

    /// The addresses of this set that are not in `other`.
    public func subtracting(_ other: PrefixSet) -> PrefixSet {
        guard other.version == version, !other.ranges.isEmpty else { return self }
        var out = [ClosedRange<UInt128>]()
        var j = 0
        for r in ranges {
            var lower = r.lowerBound
            var done = false
            // Skip the ranges of `other` that end before this one starts.
            while j < other.ranges.count && other.ranges[j].upperBound < lower { j += 1 }
            var k = j
            while k < other.ranges.count && other.ranges[k].lowerBound <= r.upperBound {
                let cut = other.ranges[k]
                if cut.lowerBound > lower { out.append(lower...(cut.lowerBound - 1)) }
                if cut.upperBound >= r.upperBound { done = true; break }
                lower = cut.upperBound + 1
                k += 1
            }
            if !done { out.append(lower...r.upperBound) }
        }
        var s = self
        s.ranges = out
        return s
    }

    public func intersects(_ other: PrefixSet) -> Bool {
        guard other.version == version else { return false }
        var i = 0, j = 0
        while i < ranges.count && j < other.ranges.count {
            if ranges[i].overlaps(other.ranges[j]) { return true }
            if ranges[i].upperBound < other.ranges[j].upperBound { i += 1 } else { j += 1 }
        }
        return false
    }

    public func isSubset(of other: PrefixSet) -> Bool { subtracting(other).isEmpty && (isEmpty || other.version == version) }

    /// Whether every address of `net` is in the set.
    public func contains(_ net: IPNetwork) -> Bool {
        guard net.version == version else { return false }
        let lo = net.network.value, hi = net.broadcast.value
        var a = 0, b = ranges.count
        while a < b {
            let m = (a + b) / 2
            if ranges[m].upperBound < lo { a = m + 1 } else { b = m }
        }
        return a < ranges.count && ranges[a].lowerBound <= lo && ranges[a].upperBound >= hi
    }

    /// The set as the fewest CIDRs, in address order (netaddr's `compact()` + `iter_cidrs()`).
    /// At most 2 × bits per range.
    public var cidrs: [IPNetwork] {
        let bits = version == 4 ? 32 : 128
        var out = [IPNetwork]()
        for r in ranges {
            var lo = r.lowerBound
            while true {
                // The largest aligned block at `lo` that ends within the range.
                var hostBits = lo == 0 ? bits : min(bits, lo.trailingZeroBitCount)
                while hostBits > 0 {
                    let last = hostBits >= 128 ? UInt128.max : lo | ((UInt128(1) << UInt128(hostBits)) - 1)
                    if last <= r.upperBound { break }
                    hostBits -= 1
                }
                out.append(IPNetwork(address: IPAddress(version: version, value: lo), prefixLength: bits - hostBits))
                let end = hostBits >= 128 ? UInt128.max : lo | ((UInt128(1) << UInt128(hostBits)) - 1)
                if end >= r.upperBound { break }
                lo = end + 1
            }
        }
        return out
    }

    /// Where Neutron's subnet allocator puts a new /`prefixLength` (neutron/ipam/subnet_alloc.py
    /// `_allocate_any_subnet`): the free space as CIDRs, the smallest blocks first (lowest
    /// address first among equals), and the first block of that size in the first CIDR it fits.
    public func firstFit(prefixLength: Int) -> IPNetwork? {
        var best: IPNetwork?
        for c in cidrs where c.prefixLength <= prefixLength {
            if best == nil || c.prefixLength > best!.prefixLength { best = c }
        }
        return best.map { IPNetwork(address: $0.network, prefixLength: prefixLength) }
    }
}
