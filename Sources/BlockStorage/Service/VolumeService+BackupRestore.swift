import Foundation
import NimbusCore
import Synchronization

/// Restores (into a volume written aside and renamed into place by the backend) and what a
/// restart does with backups caught in flight.
extension VolumeService {
    /// The locations a restore of `b` reads: its full backup first, then each incremental up to it.
    func restoreChain(_ b: JSONObject, _ s: VolumeState) throws -> [BackupLocation] {
        var chain = [BackupLocation]()
        var current = b
        var seen = Set<String>()
        while true {
            guard let l = location(current) else { throw VolumeFault.invalidBackup("Backup \(current["id"]?.stringValue ?? "") has no data.") }
            chain.append(l)
            guard let pid = current["parent_id"]?.stringValue else { break }
            guard seen.insert(pid).inserted, let parent = s[.backup, pid] else {
                throw VolumeFault.invalidBackup("The backup \(pid) this incremental backup builds on is gone.")
            }
            current = parent
        }
        return chain.reversed()
    }

    /// Restores backup `id` into volume `volumeID` in the background; the volume's own
    /// operations (a force-delete) wait for it.
    func startRestore(_ id: String, into volumeID: String) {
        background(volumeID, "restoring backup \(id) into volume", {
            try await self.backupSlots.run { try await self.runRestore(id, into: volumeID) }
        }, onFailure: { error in await self.restoreFailed(id, volumeID, error) })
    }

    func runRestore(_ id: String, into volumeID: String) async throws {
        guard let engine = backups else { throw VolumeFault.noBackupService }
        let s = state
        guard let b = s[.backup, id], let v = s[.volume, volumeID] else { throw NimbusError(.internal, "the backup or the volume is gone") }
        let chain = try restoreChain(b, s)
        let newest = Mutex<JSONObject>([:])
        let clock = ContinuousClock()
        let started = clock.now
        let filled = Mutex(Duration.zero)
        let sizeGB = v["size"]?.intValue ?? b["size"]?.intValue ?? 1
        try await backend.restore(volume: volumeID, sizeGB: sizeGB) { path in
            let meta = try await engine.restore(chain, into: path, capacity: sizeGB << 30) { self.state[.backup, id]?["status"]?.stringValue != "restoring" }
            newest.withLock { $0 = meta }
            filled.withLock { $0 = clock.now - started }
        }
        let read = filled.withLock { $0 }
        logger.info("restore of backup \(id) into volume \(volumeID): objects read in \(read), volume written in \(clock.now - started - read)")
        let volumeMeta = newest.withLock { $0["volume_meta"]?.stringValue }
        let kept: Bool = try await write { s in
            if var done = s[.backup, id], done["status"]?.stringValue == "restoring" {
                done["status"] = "available"
                done["updated_at"] = .string(Self.now())
                s.put(.backup, done)
            }
            guard var target = s[.volume, volumeID] else { return false }
            if target["status"]?.stringValue == "creating" { target["launched_at"] = .string(Self.now()) }
            Self.applyVolumeMeta(volumeMeta, to: &target, backup: b)
            target["status"] = "available"
            target["updated_at"] = .string(Self.now())
            s.put(.volume, target)
            return true
        }
        // A volume force-deleted meanwhile: the restored bytes have no owner.
        if !kept { try? await backend.delete(volume: volumeID) }
    }

    /// A volume made for the restore ends `error`, an existing one `error_restoring`; the
    /// backup is `available` again (Cinder's `restore_backup`).
    func restoreFailed(_ id: String, _ volumeID: String, _ error: any Error) async {
        do {
            try await write { s in
                if var v = s[.volume, volumeID] {
                    let created = v["status"]?.stringValue == "creating"
                    v["status"] = .string(created || error is BackupCancelled ? "error" : "error_restoring")
                    v["updated_at"] = .string(Self.now())
                    s.put(.volume, v)
                }
                guard var b = s[.backup, id] else { return }
                if b["status"]?.stringValue == "restoring" {
                    b["status"] = "available"
                    b["updated_at"] = .string(Self.now())
                    s.put(.backup, b)
                }
                self.recordMessage(&s, project: b["project_id"]?.stringValue ?? "", resourceType: "VOLUME_BACKUP", resource: id,
                                   event: "VOLUME_VOLUME_BACKUP_015_026", text: "restore backup:Backup driver failed to restore backup.", requestID: nil)
            }
        } catch {
            logger.error("could not record the failed restore of backup \(id): \(error)")
        }
    }

    // MARK: restart

    /// Cinder's backup manager at start (`_cleanup_incomplete_backup_operations`): a backup
    /// being made ends `error` (its volume back to its previous status, its partial objects
    /// deleted), one being restored is `available` again (its volume `error_restoring`), a
    /// deletion runs again.
    func recoverBackups() async {
        for b in state.all(.backup) {
            guard let id = b["id"]?.stringValue else { continue }
            switch b["status"]?.stringValue {
            case "creating":
                do {
                    try await write { s in
                        guard var now = s[.backup, id], now["status"]?.stringValue == "creating" else { return }
                        self.releaseBackupSource(&s, now)
                        now["status"] = "error"
                        now["fail_reason"] = "incomplete backup reset on manager restart"
                        now["updated_at"] = .string(Self.now())
                        s.put(.backup, now)
                    }
                } catch {
                    logger.error("could not reset backup \(id): \(error)")
                }
                if let engine = backups, let l = location(b), b["volume_id"]?.stringValue != Self.importVolumeID {
                    background(id, "removing the objects of an interrupted backup", { try await engine.delete(l) }, onFailure: { _ in })
                }
            case "restoring":
                if let vid = b["restore_volume_id"]?.stringValue, state[.volume, vid]?["status"]?.stringValue == "restoring-backup" {
                    await update(.volume, vid, ["status": "error_restoring"])
                }
                await update(.backup, id, ["status": "available"])
            case "deleting":
                startBackupDeletion(id)
            default:
                break
            }
        }
    }
}
