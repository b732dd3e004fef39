import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NimbusCore
import ObjectStorage

/// `nimbus storage`: a storage node. It serves its object devices (directories under
/// `<data-dir>/object/devices/<name>`) over HTTP to the proxy in `nimbus up`, which finds
/// them through ring entries with this node's address (`nimbus ring add --address`), and
/// audits them itself. It keeps no other state: no database, no ring.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "Run a storage node serving object devices to the proxy.")

    @Option(help: "HOST:PORT to listen on.")
    var listen: String = "127.0.0.1:6200"

    @Option(help: "Directory holding object/devices/<name>.")
    var dataDir: String = "./data"

    @Option(name: .customLong("device"), help: "A device this node serves (repeat for more); its name in the ring.")
    var devices: [String] = []

    @Option(help: "File with the storage key shared with the proxy (the controller's data_dir/object/storage-key).")
    var keyFile: String

    @Option(help: "Seconds between auditor passes.")
    var auditorInterval: Int = 60

    @Option(help: "Auditor read rate per device in bytes per second (0: unlimited).")
    var auditBytesPerSecond: Int = 20 * 1024 * 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard !devices.isEmpty else { throw ValidationError("name at least one --device") }
        for d in devices where !StorageNames.isDevice(d) {
            throw ValidationError("device names use up to 64 ASCII letters, digits, '-', '_' and '.': '\(d)'")
        }
        guard Set(devices).count == devices.count else { throw ValidationError("a device is named twice") }
    }

    func run() async throws {
        let logger = { var l = Up.bootstrapLogging(level: logLevel); l[metadataKey: "service"] = "object-storage-node"; return l }()
        let (host, port) = try NimbusConfiguration.hostPort(listen, what: "--listen")
        guard let key = try ObjectStorageAssembly.readStorageKey(path: keyFile) else { throw ValidationError("cannot read --key-file \(keyFile)") }

        let nodeDevices = try NodeDevices(dataDir: dataDir, names: devices, pool: ObjectStorageAssembly.ioPool)
        for d in nodeDevices.all where d.policy == 0 {
            let n = d.sweepTemporaryFilesNow(olderThan: 0)
            if n > 0 { logger.info("removed \(n) unfinished uploads from \(d.ring.name)/tmp") }
        }
        let api = StorageNodeAPI(devices: nodeDevices, key: key, peers: ObjectStorageAssembly.storageClient, logger: logger)
        let app = Application(
            router: api.router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(120))),
            configuration: .init(address: .hostname(host, port: port), serverName: "nimbus-storage"),
            services: [ObjectStorageAssembly.auditor(devices: { nodeDevices.all }, bytesPerSecond: max(0, auditBytesPerSecond),
                                                     interval: .seconds(max(1, auditorInterval)), logger: logger)],
            onServerRunning: { _ in
                print("Nimbus storage node is up at http://\(host):\(port) serving \(devices.joined(separator: ", "))")
                fflush(nil)
            },
            logger: logger
        )
        try await app.runService()
    }
}
