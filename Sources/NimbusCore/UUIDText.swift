/// Canonical uuid text (8-4-4-4-12 hex, either case) or 32 hex digits, as the `uuid` format of
/// Nova's and Cinder's request schemas accepts it.
public enum UUIDText {
    public static func isUUID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func hex(_ x: UInt8) -> Bool { (48...57).contains(x) || (97...102).contains(x) || (65...70).contains(x) }
        if b.count == 32 { return b.allSatisfy(hex) }
        guard b.count == 36 else { return false }
        for (i, x) in b.enumerated() {
            if [8, 13, 18, 23].contains(i) { if x != 45 { return false } } else if !hex(x) { return false }
        }
        return true
    }
}
