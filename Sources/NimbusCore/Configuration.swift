import Foundation

/// One documented configuration option. Values resolve: command-line flag > environment
/// (`NIMBUS_<SECTION>_<KEY>`, upper-cased) > config file > default.
public struct ConfigOption: Sendable {
    public let section: String
    public let key: String
    public let defaultValue: String
    public let help: String

    public init(_ section: String, _ key: String, default defaultValue: String, _ help: String) {
        self.section = section
        self.key = key
        self.defaultValue = defaultValue
        self.help = help
    }

    public var environmentName: String { "NIMBUS_\(section)_\(key)".uppercased().replacingOccurrences(of: "-", with: "_") }
}

/// The resolved configuration. The file format is the INI dialect of oslo.config (`nimbus.conf`),
/// which OpenStack operators already know; see ARCHITECTURE.md.
public struct Configuration: Sendable {
    public private(set) var values: [String: [String: String]]
    public let options: [ConfigOption]

    public init(options: [ConfigOption], file: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                overrides: [String: [String: String]] = [:]) throws(NimbusError) {
        self.options = options
        var values = [String: [String: String]]()
        for o in options { values[o.section, default: [:]][o.key] = o.defaultValue }
        if let file {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw .badRequest("cannot read config file \(file): \(error)")
            }
            for (section, kv) in try Configuration.parseINI(text) {
                for (k, v) in kv { values[section, default: [:]][k] = v }
            }
        }
        for o in options { if let v = environment[o.environmentName] { values[o.section, default: [:]][o.key] = v } }
        for (section, kv) in overrides { for (k, v) in kv { values[section, default: [:]][k] = v } }
        self.values = values
    }

    public func string(_ section: String, _ key: String) -> String { values[section]?[key] ?? "" }
    public func int(_ section: String, _ key: String) -> Int { Int(string(section, key)) ?? 0 }
    public func bool(_ section: String, _ key: String) -> Bool {
        ["1", "true", "yes", "on"].contains(string(section, key).lowercased())
    }

    public static func parseINI(_ text: String) throws(NimbusError) -> [String: [String: String]] {
        var out = [String: [String: String]]()
        var section = "DEFAULT"
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw .badRequest("config line \(n + 1): unterminated section header") }
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw .badRequest("config line \(n + 1): expected key = value") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            out[section, default: [:]][key] = value
        }
        return out
    }

    /// Every option with its default and one line of help, as `nimbus config sample` prints it.
    public static func sample(_ options: [ConfigOption]) -> String {
        var out = "# Nimbus configuration (nimbus.conf). Environment: NIMBUS_<SECTION>_<KEY>.\n"
        var current = ""
        for o in options.sorted(by: { ($0.section, $0.key) < ($1.section, $1.key) }) {
            if o.section != current {
                out += "\n[\(o.section)]\n"
                current = o.section
            }
            out += "# \(o.help)\n#\(o.key) = \(o.defaultValue)\n"
        }
        return out
    }
}
