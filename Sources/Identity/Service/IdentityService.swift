import Foundation
import Logging
import NimbusCore
import NimbusStore
import SQLKit
import Synchronization

/// Keystone's `[security_compliance]` options (PCI-DSS); every one is off by default.
public struct SecurityCompliance: Sendable {
    public var lockoutFailureAttempts = 0
    public var lockoutDuration: TimeInterval = 1800
    public var uniqueLastPasswordCount = 0
    public var passwordExpiresDays = 0
    public var minimumPasswordAgeDays = 0
    public var passwordRegex: String?
    public var passwordRegexDescription: String?
    public var changePasswordUponFirstUse = false
    public init() {}
}

public struct IdentitySettings: Sendable {
    public var tokenLifetime: TimeInterval
    public var allowExpiredWindow: TimeInterval
    public var passwordHashRounds: Int
    public var defaultDomainID: String
    public var security = SecurityCompliance()
    /// Keystone's `[oauth1] request_token_duration` and `access_token_duration` (seconds; 0: the
    /// tokens never expire).
    public var oauthRequestTokenDuration: TimeInterval = 28_800
    public var oauthAccessTokenDuration: TimeInterval = 86_400

    public init(tokenLifetime: TimeInterval = 3600, allowExpiredWindow: TimeInterval = 172_800, passwordHashRounds: Int = 60_000,
                defaultDomainID: String = "default") {
        self.tokenLifetime = tokenLifetime
        self.allowExpiredWindow = allowExpiredWindow
        self.passwordHashRounds = passwordHashRounds
        self.defaultDomainID = defaultDomainID
    }
}

/// Keystone's domain logic: identities, resources, assignments, catalog and tokens. No HTTP here.
///
/// Every committed write bumps `generation`; validated tokens are cached per generation, so the hot
/// path (validating a token seen before) touches neither the database nor the KDF, and any change
/// to users, roles, projects or revocations is reflected on the next request.
public final class IdentityService: Sendable {
    let db: Database
    let settings: IdentitySettings
    let hasher: PasswordHasher
    let sealer: TokenSealer
    let logger: Logger
    let generationCounter = Atomic<UInt64>(1)
    let revocations: RevocationList
    /// Keyed by the token's bytes: a `String` key would also answer for a canonically equivalent
    /// spelling (a `K` replaced by KELVIN SIGN) without the token ever being opened.
    let validationCache = Mutex<[Name: CachedValidation]>([:])
    let memo = GenerationMemo()
    static let validationCacheLimit = 50_000

    struct CachedValidation {
        let generation: UInt64
        let context: AuthContext
    }

    public init(database: Database, settings: IdentitySettings, sealer: TokenSealer, logger: Logger) async throws {
        self.db = database
        self.settings = settings
        self.hasher = PasswordHasher(rounds: settings.passwordHashRounds)
        self.sealer = sealer
        self.logger = logger
        self.revocations = RevocationList()
        try await loadRevocations()
    }

    var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Call after every committed write that could change a token's meaning.
    func changed() {
        generationCounter.add(1, ordering: .releasing)
    }

    /// Runs a write transaction, then invalidates cached validations — here at once, and in other
    /// controllers sharing the database through the shared counter (see `ChangeWatcher`).
    func write<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let result = try await db.transaction { db in
            let r = try await body(db)
            try await Self.bumpSharedGeneration(db)
            return r
        }
        changed()
        return result
    }

    static func bumpSharedGeneration(_ db: any SQLDatabase) async throws {
        try await db.raw("UPDATE identity_generation SET value = value + 1 WHERE name = 'identity'").run()
    }

    var now: Date { Date() }
    var nowString: String { Timestamps.micros(Date()) }
}

/// Parses a stored JSON column, tolerating an empty string.
func decodeJSONColumn(_ text: String) -> JSONObject {
    (try? JSONValue.parse(string: text))?.objectValue ?? [:]
}

func encodeJSONColumn(_ object: JSONObject) -> String { JSONValue.object(object).serializedString() }
