// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "nimbus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nimbus", targets: ["nimbus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // zlib and libbz2 from the system (Debian's zlib1g-dev, libbz2-dev; scripts/install-deps.sh).
        .systemLibrary(name: "CArchiveCodecs", path: "Sources/CArchiveCodecs",
                       providers: [.apt(["zlib1g-dev", "libbz2-dev"]), .brew(["bzip2"])]),
        .target(
            name: "NimbusCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "NimbusPolicy",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "NimbusStore",
            dependencies: [
                "NimbusCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "NimbusHTTP",
            dependencies: [
                "NimbusCore",
                "NimbusPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Identity",
            dependencies: [
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ObjectStorage",
            dependencies: [
                "CArchiveCodecs",
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Image",
            dependencies: [
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Placement",
            dependencies: [
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Compute",
            dependencies: [
                "NimbusCore",
                "ComputeNode",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ComputeNode",
            dependencies: [
                "NimbusCore",
                "NimbusHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "NetworkNode",
            dependencies: [
                "NimbusCore",
                "ComputeNode",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Networking",
            dependencies: [
                "NimbusCore",
                "NetworkNode",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BlockStorage",
            dependencies: [
                "CArchiveCodecs",
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                "NimbusPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StorageNode",
            dependencies: [
                "NimbusCore",
                "BlockStorage",
                "ComputeNode",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "nimbus",
            dependencies: [
                "NimbusCore",
                "NimbusStore",
                "NimbusHTTP",
                "Identity",
                "ObjectStorage",
                "Image",
                "Placement",
                "Compute",
                "ComputeNode",
                "Networking",
                "NetworkNode",
                "BlockStorage",
                "StorageNode",
                "NimbusPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "NimbusCoreTests", dependencies: ["NimbusCore"], swiftSettings: swiftSettings),
        .testTarget(name: "NimbusPolicyTests", dependencies: ["NimbusPolicy"], swiftSettings: swiftSettings),
        .target(name: "NimbusTestSupport", dependencies: ["NimbusStore", .product(name: "SQLKit", package: "sql-kit")], path: "Tests/NimbusTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "NimbusStoreTests", dependencies: ["NimbusStore", "NimbusTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "NimbusHTTPTests", dependencies: ["NimbusHTTP", .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                         .product(name: "NIOEmbedded", package: "swift-nio"),
                                                         .product(name: "NIOHTTP1", package: "swift-nio")], swiftSettings: swiftSettings),
        .testTarget(name: "ObjectStorageTests", dependencies: ["ObjectStorage", "CArchiveCodecs", "NimbusStore", "NimbusTestSupport",
                                                           .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: swiftSettings),
        .testTarget(name: "ImageTests", dependencies: ["Image", "NimbusStore", "NimbusTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                                                   .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: swiftSettings),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "NimbusStore", "NimbusTestSupport", "NimbusPolicy", "NimbusHTTP",
                                                       .product(name: "HummingbirdTesting", package: "hummingbird")],
                    resources: [.copy("placement-schema.json")], swiftSettings: swiftSettings),
        .testTarget(name: "ComputeNodeTests", dependencies: ["ComputeNode", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "ComputeNode", "NimbusStore", "NimbusTestSupport", "NimbusPolicy", "NimbusHTTP",
                                                     .product(name: "HummingbirdTesting", package: "hummingbird")], swiftSettings: swiftSettings),
        .testTarget(name: "NetworkingTests", dependencies: ["Networking", "NetworkNode", "NimbusStore", "NimbusTestSupport", "NimbusPolicy"], swiftSettings: swiftSettings),
        .testTarget(name: "BlockStorageTests", dependencies: ["BlockStorage", "StorageNode", "ComputeNode", "NimbusStore", "NimbusTestSupport", "NimbusPolicy"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "NimbusStore", "NimbusTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")], resources: [.copy("identity-schema.json")], swiftSettings: swiftSettings),
    ]
)
