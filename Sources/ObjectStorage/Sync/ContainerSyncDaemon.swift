import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NimbusCore

/// The sending side of container sync (Swift's container-sync daemon): each pass walks every
/// container with `X-Container-Sync-To` and `X-Container-Sync-Key`, sends what changed since
/// its sync point (a PUT with the object's bytes, metadata and timestamp, or a DELETE with the
/// delete's timestamp) signed for the realm, and stores the new point. A container gets at
/// most `containerTime` per pass; a failure stops that container's pass at the failed row
/// (it is sent again next pass) and never the other containers.
public struct ContainerSyncDaemon: Sendable {
    let service: ObjectStorageService
    let client: HTTPClient
    let logger: Logger
    /// Rows read from the index at a time.
    static let pageSize = 100

    public init(service: ObjectStorageService, client: HTTPClient, logger: Logger) {
        self.service = service
        self.client = client
        self.logger = logger
    }

    var settings: ContainerSyncSettings { service.settings.containerSync }
    var index: ObjectIndex { service.index }

    public struct Stats: Sendable, CustomStringConvertible {
        public var containers = 0, puts = 0, deletes = 0, skips = 0, failures = 0
        public var description: String { "\(containers) containers, \(puts) puts, \(deletes) deletes, \(skips) skipped, \(failures) failures" }
    }

    /// One pass over every synced container.
    public func runPass() async -> Stats {
        var stats = Stats()
        do { try await index.forgetUnsyncedContainers() } catch { logger.error("container sync: cleaning up sync state failed: \(error)") }
        var after: (String, String)? = nil
        while true {
            let page: [ContainerRow]
            do { page = try await index.syncedContainers(after: after, limit: Self.pageSize) } catch {
                logger.error("container sync: listing synced containers failed: \(error)")
                break
            }
            for c in page {
                stats.containers += 1
                do { try await sync(c, &stats) } catch {
                    stats.failures += 1
                    logger.error("container sync: \(c.account)/\(c.name): \(error)")
                }
            }
            guard let last = page.last, page.count == Self.pageSize else { break }
            after = (last.account, last.name)
        }
        return stats
    }

    /// Sends what changed in `c` since its sync point, for at most `containerTime`.
    func sync(_ c: ContainerRow, _ stats: inout Stats) async throws {
        guard let syncTo = c.metadata["x-container-sync-to"], let key = c.metadata["x-container-sync-key"], !key.isEmpty else {
            stats.skips += 1
            return
        }
        guard case .success(let target)? = ContainerSyncTarget.validate(syncTo, rules: settings.rules, realms: settings.realms) else {
            stats.failures += 1
            logger.info("container sync: \(c.account)/\(c.name): X-Container-Sync-To \(syncTo) does not validate (any more)")
            return
        }
        let peer = ContainerSyncPeer(target: target, userKey: key, client: client, timeout: settings.requestTimeout)
        var point = try await index.syncPoint(c.account, c.name) ?? SyncPoint(syncTo: syncTo, initialMarker: "", logSeq: 0)
        if !point.syncTo.sameBytes(as: syncTo) { point = SyncPoint(syncTo: syncTo, initialMarker: "", logSeq: 0) }
        let deadline = ContinuousClock.now + settings.containerTime
        // The objects that existed before sync started (or before sync-to changed), in name order.
        while let marker = point.initialMarker, ContinuousClock.now < deadline {
            let rows = try await index.objects(c.account, c.name, after: marker, limit: Self.pageSize)
            for row in rows {
                guard try await send(row, to: peer, from: c, &stats) else { return try await index.saveSyncPoint(c.account, c.name, point) }
                point.initialMarker = row.name
            }
            if rows.count < Self.pageSize { point.initialMarker = nil }
            try await index.saveSyncPoint(c.account, c.name, point)
        }
        // Then the changes logged since.
        while point.initialMarker == nil, ContinuousClock.now < deadline {
            let log = try await index.syncLog(c.account, c.name, after: point.logSeq, limit: Self.pageSize)
            if log.isEmpty { break }
            for entry in log {
                guard try await apply(entry, to: peer, from: c, &stats) else { return try await index.saveSyncPoint(c.account, c.name, point) }
                point.logSeq = entry.seq
            }
            try await index.saveSyncPoint(c.account, c.name, point)
        }
    }

    /// Sends one logged change; false when it failed (to be retried next pass).
    func apply(_ entry: SyncLogRow, to peer: ContainerSyncPeer, from c: ContainerRow, _ stats: inout Stats) async throws -> Bool {
        let current = try await index.object(c.account, c.name, entry.name)
        if entry.deleted {
            // The object was written again since: a later row of the log sends it.
            guard current == nil else { stats.skips += 1; return true }
            do {
                let status = try await peer.delete(entry.name, timestamp: entry.timestamp)
                guard (200..<300).contains(status) || status == 404 || status == 409 else { return failed(status, entry.name, c, &stats) }
                stats.deletes += 1
                return true
            } catch {
                return failed(error, entry.name, c, &stats)
            }
        }
        guard let current else { stats.skips += 1; return true }
        return try await send(current, to: peer, from: c, &stats)
    }

    /// Sends an object unless the destination already has it as new; false when it failed.
    func send(_ row: ObjectRow, to peer: ContainerSyncPeer, from c: ContainerRow, _ stats: inout Stats) async throws -> Bool {
        // Expired objects are gone; rows that show an object version are not synced (Swift skips
        // versioning symlinks).
        if row.expired(at: Int(Date().timeIntervalSince1970)) || row.versionID != nil { stats.skips += 1; return true }
        let timestamp = row.lastModified
        do {
            if let remote = try await peer.headTimestamp(row.name, timestamp: timestamp), remote >= timestamp {
                stats.skips += 1
                return true
            }
            let stream = try await service.open(row)
            let status: Int
            do {
                status = try await peer.put(row, timestamp: timestamp, body: stream)
            } catch {
                await stream.close()
                throw error
            }
            await stream.close()
            guard (200..<300).contains(status) else { return failed(status, row.name, c, &stats) }
            stats.puts += 1
            return true
        } catch let e as ContainerSyncPeer.Failure {
            return failed(e.status, row.name, c, &stats)
        } catch let e as NimbusError where e.kind == .notFound || e.kind == .conflict {
            // Deleted or replaced while being read: its log row sends what it became.
            stats.skips += 1
            return true
        } catch {
            return failed(error, row.name, c, &stats)
        }
    }

    func failed(_ status: Int, _ name: String, _ c: ContainerRow, _ stats: inout Stats) -> Bool {
        stats.failures += 1
        let from = "\(c.account)/\(c.name)", to = c.metadata["x-container-sync-to"] ?? ""
        switch status {
        case 401: logger.info("container sync: Unauth \(from) => \(to)")
        case 404: logger.info("container sync: Not found \(from) => \(to) - object \(name)")
        default: logger.error("container sync: \(from) => \(to): object \(name): HTTP \(status)")
        }
        return false
    }

    func failed(_ error: any Error, _ name: String, _ c: ContainerRow, _ stats: inout Stats) -> Bool {
        stats.failures += 1
        logger.error("container sync: \(c.account)/\(c.name) => \(c.metadata["x-container-sync-to"] ?? ""): object \(name): \(error)")
        return false
    }
}
