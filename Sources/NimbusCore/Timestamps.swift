import Foundation

/// OpenStack renders times in a few fixed UTC formats; these produce and parse them without
/// the cost of a locale-aware formatter.
public enum Timestamps {
    /// Microsecond precision with a `Z`, as Keystone renders token times: `2025-01-02T03:04:05.000000Z`.
    public static func micros(_ date: Date) -> String {
        let (c, usec) = components(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", c.year, c.month, c.day, c.hour, c.minute, c.second, usec)
    }

    /// Second precision with a `Z`, as Glance renders image times: `2025-01-02T03:04:05Z`.
    public static func seconds(_ date: Date) -> String {
        var t = time_t(floor(date.timeIntervalSince1970))
        var v = tm()
        gmtime_r(&t, &v)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", v.tm_year + 1900, v.tm_mon + 1, v.tm_mday, v.tm_hour, v.tm_min, v.tm_sec)
    }

    /// Seconds with a space and no zone, as Neutron renders its agents' times: `2025-01-02 03:04:05`.
    public static func spaced(_ date: Date) -> String {
        var t = time_t(floor(date.timeIntervalSince1970))
        var v = tm()
        gmtime_r(&t, &v)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", v.tm_year + 1900, v.tm_mon + 1, v.tm_mday, v.tm_hour, v.tm_min, v.tm_sec)
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// An HTTP date (RFC 9110 IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func httpDate(_ date: Date) -> String {
        var t = time_t(floor(date.timeIntervalSince1970))
        var v = tm()
        gmtime_r(&t, &v)
        return String(format: "%@, %02d %@ %04d %02d:%02d:%02d GMT", weekdays[Int(v.tm_wday)], v.tm_mday, months[Int(v.tm_mon)],
                      v.tm_year + 1900, v.tm_hour, v.tm_min, v.tm_sec)
    }

    /// Parses an HTTP date: IMF-fixdate, RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) or asctime
    /// (`Sun Nov  6 08:49:37 1994`), the three forms RFC 9110 asks recipients to accept.
    public static func parseHTTPDate(_ string: String) -> Date? {
        let f = string.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        let (day, month, year, time): (String, String, String, String)
        switch f.count {
        case 6 where f[5] == "GMT" && f[4].contains(":"): (day, month, year, time) = (f[1], f[2], f[3], f[4])  // IMF-fixdate, RFC 850
        case 5 where f[3].contains(":"): (day, month, year, time) = (f[2], f[1], f[4], f[3])                    // asctime
        default: return nil
        }
        let t = time.splitBytes(":", omittingEmpty: false).map { Int($0) }
        guard var y = Int(year), let d = Int(day), let m = months.firstIndex(of: month), t.count == 3,
              let hh = t[0], let mm = t[1], let ss = t[2] else { return nil }
        if year.count == 2 { y += y < 70 ? 2000 : 1900 }
        var c = DateComponents()
        c.year = y; c.month = m + 1; c.day = d; c.hour = hh; c.minute = mm; c.second = ss
        guard (1...31).contains(d), (0..<24).contains(hh), (0..<60).contains(mm), (0..<61).contains(ss) else { return nil }
        return utcCalendar.date(from: c)
    }

    /// Parses ISO 8601 with or without fraction and zone (a missing zone means UTC).
    public static func parse(_ string: String) -> Date? {
        var s = string.trimmingCharacters(in: .whitespaces)
        guard s.count >= 10 else { return nil }
        var offset: TimeInterval = 0
        if s.hasSuffix("Z") || s.hasSuffix("z") {
            s.removeLast()
        } else if let signIndex = s.lastIndex(where: { $0 == "+" || $0 == "-" }), s.distance(from: s.startIndex, to: signIndex) > 10 {
            let zone = s[s.index(after: signIndex)...].replacingOccurrences(of: ":", with: "")
            guard zone.count == 4, let hh = Int(zone.prefix(2)), let mm = Int(zone.suffix(2)) else { return nil }
            offset = TimeInterval(hh * 3600 + mm * 60) * (s[signIndex] == "+" ? 1 : -1)
            s = String(s[..<signIndex])
        }
        let parts = s.splitBytes("T", maxSplits: 1, omittingEmpty: false).map(String.init)
        let dateParts = parts[0].splitBytes("-", omittingEmpty: false).map { Int($0) }
        guard dateParts.count == 3, let year = dateParts[0], let month = dateParts[1], let day = dateParts[2],
              (1...9999).contains(year), parts[0].utf8.count == 10 else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        if parts.count == 2 {
            let timeAndFrac = parts[1].splitBytes(".", maxSplits: 1, omittingEmpty: false)
            guard let timePart = timeAndFrac.first else { return nil }
            let t = timePart.splitBytes(":", omittingEmpty: false).map { Int($0) }
            guard (2...3).contains(t.count), t.allSatisfy({ $0 != nil }) else { return nil }
            hour = t[0]!; minute = t[1]!; second = t.count > 2 ? t[2]! : 0
            if timeAndFrac.count == 2 {
                let digits = timeAndFrac[1]
                guard !digits.isEmpty, digits.utf8.count <= 9, digits.utf8.allSatisfy({ (48...57).contains($0) }), let f = Double("0." + digits) else { return nil }
                fraction = f
            }
        }
        var comps = DateComponents()
        comps.year = year; comps.month = month; comps.day = day
        comps.hour = hour; comps.minute = minute; comps.second = second
        guard (1...12).contains(month), (1...31).contains(day), (0..<24).contains(hour), (0..<60).contains(minute), (0..<61).contains(second),
              let date = utcCalendar.date(from: comps) else { return nil }
        return date.addingTimeInterval(fraction - offset)
    }

    private static let utcCalendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    private struct Parts { var year, month, day, hour, minute, second: Int32 }

    private static func components(_ date: Date) -> (Parts, Int32) {
        // Round to the nearest microsecond first: a parsed ".491725" is 0.4917249999… as a Double.
        let totalMicros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var t = time_t(totalMicros >= 0 ? totalMicros / 1_000_000 : (totalMicros - 999_999) / 1_000_000)
        let usec = Int32(totalMicros - Int64(t) * 1_000_000)
        var tmValue = tm()
        gmtime_r(&t, &tmValue)
        return (Parts(year: tmValue.tm_year + 1900, month: tmValue.tm_mon + 1, day: tmValue.tm_mday,
                      hour: tmValue.tm_hour, minute: tmValue.tm_min, second: tmValue.tm_sec), min(usec, 999_999))
    }
}
