/// `genisoimage`: builds the config drive, an ISO 9660 image labelled `config-2` with Rock Ridge
/// and Joliet names, with the options Nova's `ConfigDriveBuilder` passes.
struct GenISOImage: Sendable {
    static let timeout: Duration = .seconds(60)
    static let volumeLabel = "config-2"
    let binary: String
    let runner: any CommandRunner

    func arguments(output: String, tree: String) -> [String] {
        [binary, "-o", output, "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-publisher", "Nimbus",
         "-quiet", "-J", "-r", "-V", Self.volumeLabel, tree]
    }

    func build(output: String, tree: String) async throws {
        try await runner.run(arguments(output: output, tree: tree), timeout: Self.timeout).check()
    }
}
