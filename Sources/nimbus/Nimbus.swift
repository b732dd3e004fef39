import ArgumentParser
import Foundation

@main
struct Nimbus: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "nimbus",
        abstract: "An OpenStack-compatible cloud in one binary.",
        subcommands: [Up.self, StorageCommand.self, ComputeCommand.self, DB.self, RingCommand.self, Config.self, Version.self, BenchKDF.self]
    )
}

/// Flags shared by every command that touches the data directory or the store.
struct CommonOptions: ParsableArguments {
    @Option(help: "Configuration file (oslo.config INI format).")
    var configFile: String?

    @Option(help: "Directory for the database, keys and clouds.yaml.")
    var dataDir: String?

    @Option(help: "Database URL: postgresql://… or a SQLite path (default: <data-dir>/nimbus.sqlite).")
    var database: String?

    func configuration(listen: String? = nil, extra: [String: [String: String]] = [:]) throws -> NimbusConfiguration {
        var overrides = extra
        if let dataDir { overrides["DEFAULT", default: [:]]["data_dir"] = dataDir }
        if let database { overrides["DEFAULT", default: [:]]["database"] = database }
        if let listen { overrides["DEFAULT", default: [:]]["listen"] = listen }
        return try NimbusConfiguration(file: configFile, overrides: overrides)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("nimbus \(Nimbus.version)") }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Configuration helpers.", subcommands: [Sample.self])

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every option with its default and help.")
        func run() { print(NimbusConfiguration.sample, terminator: "") }
    }
}
