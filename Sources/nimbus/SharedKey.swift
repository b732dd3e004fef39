import Foundation
import NimbusCore
import ObjectStorage

/// A secret shared between the controller and its nodes (storage nodes, compute nodes): the
/// configured file, or one under the data dir created (mode 0600) the first time.
enum SharedKey {
    static func loadOrCreate(configured: String, defaultPath: String, what: String) throws -> String {
        let path = configured.isEmpty ? defaultPath : configured
        if let key = try read(path: path, what: what) { return key }
        guard configured.isEmpty else { throw NimbusError.badRequest("cannot read the \(what) file \(path)") }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let key = Identifiers.hex32() + Identifiers.hex32()
        try DurableFile.write(Data((key + "\n").utf8), to: path, mode: 0o600)
        return key
    }

    /// The key in `path` (nil if the file cannot be read); keys under 16 bytes are refused.
    static func read(path: String, what: String) throws -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.utf8.count >= 16 else { throw NimbusError.badRequest("the \(what) in \(path) is shorter than 16 characters") }
        return key
    }
}
