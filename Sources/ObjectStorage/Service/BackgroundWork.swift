import Foundation
import Logging
import NimbusCore

public struct ReplicationStats: Sendable, CustomStringConvertible {
    public var partitions = 0
    public var copied = 0
    /// Of `copied`, those a storage node sent straight to another (not through this process).
    public var pushed = 0
    public var metaCopied = 0
    public var removed = 0
    public var failures = 0
    public var lost = 0
    public var description: String {
        "\(partitions) partitions, \(copied) replicas restored (\(pushed) node to node), \(metaCopied) metadata copies, \(removed) stale files removed, \(failures) failures, \(lost) objects without any replica"
    }
}

extension ObjectStorageService {
    // MARK: replicator

    /// One replication pass: for every partition in use, makes each primary device hold the
    /// version the index names (copying from any device that has a good copy), moves data off
    /// handoff devices once the primaries have it, and removes superseded files and orphans
    /// (files the index does not name, once older than `reclaimAge`).
    public func replicate() async -> ReplicationStats {
        var stats = ReplicationStats()
        for policy in policies.all.map(\.index) {
            var partitions = Set<Int>()
            do { partitions.formUnion(try await index.partitionsInUse(policy: policy)) } catch {
                logger.error("replicator: cannot read the index: \(error)")
                return stats
            }
            for d in devices(policy: policy) {
                if let ps = try? await d.partitions() { partitions.formUnion(ps) }
            }
            for p in partitions.sorted() {
                stats.partitions += 1
                await replicate(partition: p, policy: policy, stats: &stats)
            }
        }
        return stats
    }

    func replicate(partition p: Int, policy: Int, stats: inout ReplicationStats) async {
        guard let rows = try? await index.partitionObjects(p, policy: policy) else { stats.failures += 1; return }
        let auth = Dictionary(rows.map { ($0.hash, $0) }, uniquingKeysWith: { a, b in a.timestamp > b.timestamp ? a : b })
        let (primaries, handoffs) = nodes(partition: p, policy: policy)
        var listings = [Int: [String: HashState]]()
        for d in primaries + handoffs {
            if let l = try? await d.list(partition: p) { listings[d.ring.id] = l }
        }
        let now = Date().timeIntervalSince1970
        let reclaim = settings.reclaimAge
        func old(_ ts: String) -> Bool { (Double(ts) ?? now) < now - reclaim }
        let all = primaries + handoffs

        // Restore missing replicas on reachable primaries.
        for d in primaries where listings[d.ring.id] != nil {
            for (hash, row) in auth {
                let have = listings[d.ring.id]?[hash] ?? HashState()
                if !have.data.contains(row.timestamp) {
                    var done = false
                    for s in all where s.ring.id != d.ring.id && (listings[s.ring.id]?[hash]?.data.contains(row.timestamp) ?? false) {
                        if await copyData(from: s, to: d, partition: p, hash: hash, timestamp: row.timestamp, size: row.size) {
                            done = true
                            if s is RemoteDevice && d is RemoteDevice { stats.pushed += 1 }
                            break
                        }
                    }
                    if done {
                        stats.copied += 1
                        listings[d.ring.id, default: [:]][hash, default: HashState()].data.append(row.timestamp)
                    } else {
                        stats.failures += 1
                    }
                }
                if let mt = row.metaTimestamp, !have.meta.contains(mt) {
                    for s in all where s.ring.id != d.ring.id && (listings[s.ring.id]?[hash]?.meta.contains(mt) ?? false) {
                        if await copyMeta(from: s, to: d, partition: p, hash: hash, timestamp: mt) {
                            stats.metaCopied += 1
                            listings[d.ring.id, default: [:]][hash, default: HashState()].meta.append(mt)
                            break
                        }
                    }
                }
            }
        }
        for (hash, row) in auth {
            let holders = all.filter { listings[$0.ring.id]?[hash]?.data.contains(row.timestamp) ?? false }
            if holders.isEmpty && old(row.timestamp) { stats.lost += 1; logger.error("replicator: no replica of /\(row.account)/\(row.container)/\(row.name) found") }
        }

        // Remove superseded files, orphans, and handoff copies no longer needed. Decisions are
        // made on the index as read at the start of the pass; the index is read again just before
        // removing, and any hash whose row changed meanwhile (a PUT or DELETE committed) is left
        // for the next pass, so a freshly acknowledged version is never removed.
        guard let fresh = try? await index.partitionObjects(p, policy: policy) else { stats.failures += 1; return }
        let freshTimestamps = Dictionary(fresh.map { ($0.hash, $0.timestamp) }, uniquingKeysWith: max)
        let primaryIDs = Set(primaries.map(\.ring.id))
        for d in all {
            guard let listing = listings[d.ring.id] else { continue }
            for (hash, state) in listing where freshTimestamps[hash] == auth[hash]?.timestamp {
                var doomed = [String]()
                if let row = auth[hash] {
                    let homeFull = primaries.allSatisfy { listings[$0.ring.id]?[hash]?.data.contains(row.timestamp) ?? false }
                    let isHandoff = !primaryIDs.contains(d.ring.id)
                    for ts in state.data where ts != row.timestamp || (isHandoff && homeFull) {
                        if ts < row.timestamp || (ts > row.timestamp && old(ts)) || (ts == row.timestamp && isHandoff && homeFull) { doomed.append(ts + ".data") }
                    }
                    for ts in state.meta where ts != row.metaTimestamp || (isHandoff && homeFull) {
                        if ts < max(row.timestamp, row.metaTimestamp ?? "") || old(ts) || (isHandoff && homeFull) { doomed.append(ts + ".meta") }
                    }
                } else {
                    doomed += state.data.filter(old).map { $0 + ".data" } + state.meta.filter(old).map { $0 + ".meta" }
                }
                if !doomed.isEmpty {
                    if (try? await d.remove(partition: p, hash: hash, .files(doomed))) != nil { stats.removed += doomed.count }
                }
            }
        }
    }

    /// Copies a `.data` file to another device. Between two storage nodes the source node sends
    /// it to the other directly; otherwise (a device of this process on either end) it streams
    /// through here.
    func copyData(from s: any ObjectDevice, to d: any ObjectDevice, partition p: Int, hash: String, timestamp: String, size: Int) async -> Bool {
        if let rs = s as? RemoteDevice, let rd = d as? RemoteDevice {
            do {
                try await rs.push(partition: p, hash: hash, file: timestamp + ".data", size: size, to: rd)
                return true
            } catch {
                logger.warning("replicator: push of \(hash) from \(s.ring.name) to \(d.ring.name) failed: \(error)")
                return false
            }
        }
        guard let stream = try? await s.read(partition: p, hash: hash, timestamp: timestamp, range: nil) else { return false }
        guard let w = try? await d.writer(partition: p, hash: hash, timestamp: timestamp) else { await stream.close(); return false }
        do {
            while let chunk = try await stream.next() { try await w.write(chunk) }
            await stream.close()
            try await w.commit(stream.metadata)
            return true
        } catch {
            await stream.close()
            await w.abort()
            logger.warning("replicator: copy of \(hash) from \(s.ring.name) to \(d.ring.name) failed: \(error)")
            return false
        }
    }

    /// Copies a `.meta` file to another device (node to node between storage nodes).
    func copyMeta(from s: any ObjectDevice, to d: any ObjectDevice, partition p: Int, hash: String, timestamp: String) async -> Bool {
        if let rs = s as? RemoteDevice, let rd = d as? RemoteDevice {
            return (try? await rs.push(partition: p, hash: hash, file: timestamp + ".meta", size: 0, to: rd)) != nil
        }
        guard let m = try? await s.readMeta(partition: p, hash: hash, timestamp: timestamp) else { return false }
        return (try? await d.writeMeta(partition: p, hash: hash, metadata: m)) != nil
    }

    // MARK: auditor and expirer

    /// Checks every replica on the given devices against its checksum; bad copies are
    /// quarantined, and the next replication pass restores them from good ones.
    public func audit(devices: [any ObjectDevice]) async -> (checked: Int, quarantined: Int) {
        await Self.audit(devices: devices, bytesPerSecond: settings.auditBytesPerSecond, logger: logger)
    }

    /// The auditor pass itself, which needs no index (storage nodes run it on their devices).
    public static func audit(devices: [any ObjectDevice], bytesPerSecond: Int, logger: Logger) async -> (checked: Int, quarantined: Int) {
        var total = (checked: 0, quarantined: 0)
        for d in devices {
            do {
                let r = try await d.audit(bytesPerSecond: bytesPerSecond)
                total.checked += r.checked
                total.quarantined += r.quarantined
                if r.quarantined > 0 { logger.warning("auditor: quarantined \(r.quarantined) corrupt replica(s) on \(d.ring.name)") }
            } catch is CancellationError {
                break
            } catch {
                logger.error("auditor: \(d.ring.name): \(error)")
            }
        }
        return total
    }

    /// Deletes objects whose X-Delete-At has passed (they are already hidden from reads).
    public func expire() async -> Int {
        var n = 0
        let now = Int(Date().timeIntervalSince1970)
        while let batch = try? await index.expired(before: now, limit: 500), !batch.isEmpty {
            var progress = 0
            for row in batch {
                if (try? await delete(account: row.account, container: row.container, name: row.name, onlyTimestamp: row.timestamp)) != nil { progress += 1 }
            }
            n += progress
            if batch.count < 500 || progress == 0 { break }
        }
        return n
    }
}
