import ArgumentParser
import Foundation
import Hummingbird
import Identity
import Logging
import Metrics
import NimbusCore
import NimbusHTTP
import NimbusPolicy
import NimbusStore
import ObjectStorage
import Prometheus

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the whole cloud in this process.")

    @OptionGroup var common: CommonOptions

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:5000).")
    var listen: String?

    @Option(help: "Bootstrap admin password (default: NIMBUS_ADMIN_PASSWORD, then data-dir/admin-password, else generated).")
    var adminPassword: String?

    @Option(help: "Bootstrap demo password (default: data-dir/demo-password, else generated).")
    var demoPassword: String?

    func run() async throws {
        let started = ContinuousClock.now
        var identity = [String: String]()
        if let adminPassword { identity["admin_password"] = adminPassword }
        if let demoPassword { identity["demo_password"] = demoPassword }
        if identity["admin_password"] == nil, let env = ProcessInfo.processInfo.environment["NIMBUS_ADMIN_PASSWORD"] { identity["admin_password"] = env }
        let config = try common.configuration(listen: listen, extra: identity.isEmpty ? [:] : ["identity": identity])
        let logger = Self.bootstrapLogging(level: config.logLevel)
        let cloud = try await CloudAssembly.build(config: config, logger: logger)
        let (host, port) = try config.listen
        let (consoleHost, consolePort) = try config.consoleListen
        let publicHost = config.publicHost
        let consoles = cloud.consoles
        let consoleApp = Application(
            router: consoles.router,
            server: ConsoleListener.server { head in await consoles.upgrade(head) },
            configuration: .init(address: .hostname(consoleHost, port: consolePort), serverName: "nimbus-console"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? consolePort
                consoles.service.consoleProxyBase.withLock { $0 = "http://\(publicHost):\(bound)" }
                print("Nimbus console proxy at http://\(publicHost):\(bound)")
                fflush(nil)
            },
            logger: logger
        )
        let app = Application(
            responder: cloud.responder,
            server: .nimbusHTTP1(additionalChannelHandlers: [ExpectContinueHandler()], idleTimeout: .seconds(120),
                                keepsEmptyLength: SwiftAPI.keepsEmptyLength),
            configuration: .init(address: .hostname(host, port: port), serverName: "nimbus"),
            services: cloud.backgroundServices + [consoleApp],
            onServerRunning: { _ in
                let ms = (ContinuousClock.now - started).components
                print("Nimbus is up at http://\(host):\(port) (\(ms.seconds * 1000 + ms.attoseconds / 1_000_000_000_000_000) ms). "
                      + "Try: OS_CLIENT_CONFIG_FILE=\(cloud.cloudsYAML) openstack --os-cloud nimbus token issue")
                fflush(nil)
            },
            logger: logger
        )
        do {
            try await app.runService()
        } catch {
            await cloud.database.close()
            throw error
        }
        await cloud.database.close()
    }

    static func bootstrapLogging(level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = parsed
            return h
        }
        var logger = Logger(label: "nimbus")
        logger.logLevel = parsed
        return logger
    }
}
