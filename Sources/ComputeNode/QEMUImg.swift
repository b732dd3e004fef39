/// `qemu-img` (qemu-utils): creates the instance's disks. Formats are always explicit: the
/// overlay is qcow2 and names its base's format (`-F`), so qemu-img never probes a format.
package struct QEMUImg: Sendable {
    static let timeout: Duration = .seconds(120)
    package let binary: String
    package let runner: any CommandRunner

    package init(binary: String, runner: any CommandRunner) {
        self.binary = binary
        self.runner = runner
    }

    /// A qcow2 overlay of `base` (already inspected), of `sizeBytes` virtual bytes.
    func createOverlayArguments(path: String, base: String, baseFormat: DiskImageFormat, sizeBytes: UInt64) -> [String] {
        [binary, "create", "-q", "-f", "qcow2", "-F", baseFormat.rawValue, "-b", base, path, String(sizeBytes)]
    }

    /// An empty qcow2 disk (ephemeral, swap).
    func createBlankArguments(path: String, sizeBytes: UInt64) -> [String] {
        [binary, "create", "-q", "-f", "qcow2", path, String(sizeBytes)]
    }

    func createOverlay(path: String, base: String, baseFormat: DiskImageFormat, sizeBytes: UInt64) async throws {
        try await runner.run(createOverlayArguments(path: path, base: base, baseFormat: baseFormat, sizeBytes: sizeBytes),
                             timeout: Self.timeout).check()
    }

    package func createBlank(path: String, sizeBytes: UInt64) async throws {
        try await runner.run(createBlankArguments(path: path, sizeBytes: sizeBytes), timeout: Self.timeout).check()
    }
}

extension QEMUImg {
    /// A standalone copy of `source` (its backing chain read through), zero clusters left out.
    /// Both formats are named: nothing is probed.
    func convertArguments(source: String, sourceFormat: DiskImageFormat, output: String, outputFormat: DiskImageFormat) -> [String] {
        [binary, "convert", "-q", "-f", sourceFormat.rawValue, "-O", outputFormat.rawValue, source, output]
    }

    package func convert(source: String, sourceFormat: DiskImageFormat, output: String, outputFormat: DiskImageFormat) async throws {
        try await runner.run(convertArguments(source: source, sourceFormat: sourceFormat, output: output, outputFormat: outputFormat),
                             timeout: .seconds(3600)).check()
    }
}

extension QEMUImg {
    /// Grows a qcow2 disk to `sizeBytes` virtual bytes (`qemu-img resize` refuses to shrink
    /// without --shrink, which is never passed).
    package func resize(path: String, sizeBytes: UInt64) async throws {
        try await runner.run([binary, "resize", "-q", "-f", "qcow2", path, String(sizeBytes)], timeout: Self.timeout).check()
    }
}

extension QEMUImg {
    /// Rewrites the backing file named in a qcow2 header without touching data (`rebase -u`):
    /// `base` nil removes it. A disk copied from another node names that node's base path.
    func setBacking(path: String, base: (path: String, format: DiskImageFormat)?) async throws {
        var argv = [binary, "rebase", "-q", "-u", "-f", "qcow2"]
        if let base { argv += ["-F", base.format.rawValue, "-b", base.path] } else { argv += ["-b", ""] }
        try await runner.run(argv + [path], timeout: Self.timeout).check()
    }
}
