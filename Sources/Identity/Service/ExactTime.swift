import Foundation
import NimbusCore

/// A UTC instant to the microsecond, held as an integer count of microseconds since 1970.
///
/// Keystone keeps times as integer microseconds (`DateTimeInt`); a `Date` is a `Double` of seconds,
/// which near the year 9999 has no microseconds left (`9999-12-31T23:59:59.999999Z` rounds to
/// `10000-01-01`). Times a client gives (trust and application credential expiry) are parsed,
/// stored and rendered through this type, so they come back exactly as they were sent.
public struct ExactTime: Comparable, Hashable, Sendable {
    public let micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// Nearest microsecond of `date` (exact for the times Nimbus itself produces).
    public init(_ date: Date) { micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

    static var now: ExactTime { ExactTime(Date()) }

    public static func < (a: ExactTime, b: ExactTime) -> Bool { a.micros < b.micros }

    public var date: Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    /// `2030-01-02T03:04:05.123456Z`, as Keystone renders token and trust times.
    public var iso: String { render(zulu: true) }

    /// `2030-01-02T03:04:05.123456`, as Keystone renders datetimes it stored (oslo.serialization's
    /// `PERFECT_TIME_FORMAT`: application credential expiry, user password expiry).
    public var isoNoZone: String { render(zulu: false) }

    private func render(zulu: Bool) -> String {
        let (days, inDay) = micros.floorDividedBy(86_400_000_000)
        let (y, m, d) = Self.civil(fromDays: days)
        let secs = inDay / 1_000_000, usec = inDay % 1_000_000
        return Self.pad(y, 4) + "-" + Self.pad(m, 2) + "-" + Self.pad(d, 2) + "T" + Self.pad(secs / 3600, 2) + ":" + Self.pad(secs / 60 % 60, 2)
            + ":" + Self.pad(secs % 60, 2) + "." + Self.pad(usec, 6) + (zulu ? "Z" : "")
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Keystone's `parse_expiration_date`: a `Z` is appended unless the text ends with one, then
    /// the text is parsed as ISO 8601; so an explicit offset (`+01:00`) is refused.
    public static func parseExpiration(_ text: String) -> ExactTime? {
        parse(text.hasByteSuffix("Z") ? text : text + "Z")
    }

    /// ISO 8601 as the `iso8601` package (behind oslo's `parse_isotime`) reads it: `YYYY-MM-DD`,
    /// optionally `T` or a space and `HH[:MM[:SS[.fraction]]]`, then `Z` or `±HH[:MM]` (no zone is
    /// UTC). Fractions past microseconds are truncated. Years 1 through 9999, as Python's datetime.
    public static func parse(_ text: String) -> ExactTime? {
        var p = Scanner8(Array(text.utf8))
        guard let year = p.digits(4), p.take("-"), let month = p.digits(2), p.take("-"), let day = p.digits(2) else { return nil }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, usec: Int64 = 0
        if p.take("T") || p.take(" ") {
            guard let h = p.digits(2) else { return nil }
            hour = h
            if p.take(":") {
                guard let mi = p.digits(2) else { return nil }
                minute = mi
                if p.take(":") {
                    guard let s = p.digits(2) else { return nil }
                    second = s
                    if p.take(".") || p.take(",") {
                        let frac = p.digitRun()
                        guard !frac.isEmpty else { return nil }
                        for i in 0..<6 { usec = usec * 10 + (i < frac.count ? Int64(frac[i] - 48) : 0) }
                    }
                }
            }
        }
        var offsetMinutes: Int64 = 0
        if p.take("Z") {
        } else if let sign = p.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            p.advance()
            guard let oh = p.digits(2), oh < 24 else { return nil }
            var om: Int64 = 0
            if p.take(":") { guard let m = p.digits(2) else { return nil }; om = m } else if let m = p.digits(2) { om = m }
            guard om < 60 else { return nil }
            offsetMinutes = (oh * 60 + om) * (sign == UInt8(ascii: "+") ? 1 : -1)
        }
        guard p.atEnd, (1...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60 else { return nil }
        let days = daysFromCivil(year, month, day)
        let local = ((days * 24 + hour) * 60 + minute) * 60 + second
        let t = ExactTime(micros: (local - offsetMinutes * 60) * 1_000_000 + usec)
        // The instant itself must still be a Python datetime.
        guard t >= ExactTime(micros: daysFromCivil(1, 1, 1) * 86_400_000_000),
              t < ExactTime(micros: daysFromCivil(10000, 1, 1) * 86_400_000_000) else { return nil }
        return t
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// A cursor over ASCII bytes for the parser above.
private struct Scanner8 {
    let b: [UInt8]
    var i = 0
    init(_ b: [UInt8]) { self.b = b }
    var atEnd: Bool { i == b.count }
    var peek: UInt8? { i < b.count ? b[i] : nil }
    mutating func advance() { i += 1 }
    mutating func take(_ c: Unicode.Scalar) -> Bool {
        guard peek == UInt8(c.value) else { return false }
        i += 1
        return true
    }
    mutating func digits(_ n: Int) -> Int64? {
        guard i + n <= b.count, b[i..<(i + n)].allSatisfy({ (48...57).contains($0) }) else { return nil }
        defer { i += n }
        return b[i..<(i + n)].reduce(0) { $0 * 10 + Int64($1 - 48) }
    }
    mutating func digitRun() -> [UInt8] {
        let start = i
        while let c = peek, (48...57).contains(c) { i += 1 }
        return Array(b[start..<i])
    }
}

extension Int64 {
    /// Quotient and non-negative remainder.
    fileprivate func floorDividedBy(_ d: Int64) -> (Int64, Int64) {
        let q = self / d, r = self % d
        return r < 0 ? (q - 1, r + d) : (q, r)
    }
}
