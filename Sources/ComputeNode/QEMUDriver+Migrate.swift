import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// Moves between hosts without shared storage, as Nova's libvirt driver makes them.
///
/// * **Cold** (migrate, resize to another host): the source stops the guest and keeps its
///   directory, marked `outgoing` with the migration's uuid; the destination copies the root
///   and ephemeral disks from it over the agent API, points the root overlay at its own cached
///   copy of the same base image (verified by checksum like any base), grows the disks to the
///   new flavor and starts the guest. Confirm removes the source's copy; revert removes the
///   destination's and starts the source's again.
/// * **Live**: the destination creates empty overlays of the same base and starts QEMU waiting
///   for a stream (`-incoming defer`, then `migrate-incoming tcp:<address>:0`); the source
///   streams memory and the overlays' written blocks (QEMU's incremental block migration, so
///   the base is not sent) while the guest runs; when QEMU says `completed` the source quits
///   and removes its copy, and the destination's guest is continued.
extension QEMUDriver {
    /// Marks an instance moving out (in its directory) and a finished live migration (beside
    /// it: the directory is gone, but a repeated request must still read as done).
    func outgoingMarker(_ paths: InstancePaths) -> String { paths.dir + "/outgoing" }
    func migratedMarker(_ id: InstanceID) -> String { layout.instancesDir + "/" + id.rawValue + ".migrated" }
    func incomingURI(_ paths: InstancePaths) -> String { paths.dir + "/incoming-uri" }
    static let movedDisks = ["disk", "disk.eph0"]

    public func migrateOut(_ id: InstanceID, migration: String) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            let state = await actualState(paths)
            if state != .shutdown && state != .crashed {
                try await stopGuest(paths, acpiTimeout: state == .running ? Self.cleanShutdown : .zero)
            }
            unlink(paths.memoryState)
            try FileIO.writeAtomically(outgoingMarker(paths), Array(migration.utf8), mode: 0o600)
        }
    }

    func checkOutgoing(_ id: InstanceID, migration: String) throws(NimbusError) -> InstancePaths {
        let paths = try existing(id)
        guard let marker = try? FileIO.read(outgoingMarker(paths), count: 256), marker == Array(migration.utf8) else {
            throw .notFound("Instance \(id) is not moving out for migration \(migration)")
        }
        return paths
    }

    public func outgoingDisks(_ id: InstanceID, migration: String) async throws -> [MigrationDisk] {
        let paths = try checkOutgoing(id, migration: migration)
        return Self.movedDisks.compactMap { name in FileIO.size(paths.dir + "/" + name).map { MigrationDisk(name: name, size: Int64($0)) } }
    }

    public func outgoingDiskPath(_ id: InstanceID, migration: String, disk: String) async throws -> String {
        let paths = try checkOutgoing(id, migration: migration)
        guard Self.movedDisks.contains(disk), FileIO.exists(paths.dir + "/" + disk) else {
            throw NimbusError.notFound("Instance \(id) has no disk \(disk)")
        }
        return paths.dir + "/" + disk
    }

    public func revertMigrateOut(_ id: InstanceID, powerOn: Bool) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            unlink(outgoingMarker(paths))
            try await setPower(try InstanceRecord.load(paths.record), paths, on: powerOn)
        }
    }

    public func migrateIn(_ spec: InstanceSpec, image: any ImageSource, from source: any MigrationSource, powerOn: Bool) async throws {
        try spec.validate(image: image)
        let paths = layout.instance(spec.id)
        try paths.checkSocketPaths()
        try await locks.withLock(spec.id) {
            if FileIO.exists(paths.record) {   // moved in already: only the power state
                try await setPower(try InstanceRecord.load(paths.record), paths, on: powerOn)
                return
            }
            try FileIO.removeTree(paths.dir)
            let base = try await cache.fetch(image)
            try FileIO.makeDirectory(paths.dir)
            do {
                let offered = try await source.disks()
                guard offered.contains(where: { $0.name == "disk" }) else { throw NimbusError(.internal, "the source offers no root disk") }
                var virtualSizes = [String: UInt64]()
                for d in offered where Self.movedDisks.contains(d.name) {
                    let path = paths.dir + "/" + d.name
                    try await source.download(d.name, to: path + ".partial")
                    guard FileIO.size(path + ".partial") == UInt64(d.size) else {
                        throw NimbusError(.internal, "disk \(d.name) arrived with \(FileIO.size(path + ".partial") ?? 0) of \(d.size) bytes")
                    }
                    // Inspected as any image is, with no backing named, then given this node's base.
                    try await img.setBacking(path: path + ".partial", base: nil)
                    let inspected = try ImageInspector.inspect(path: path + ".partial", claimedFormat: "qcow2", maxVirtualSize: UInt64.max)
                    virtualSizes[d.name] = inspected.virtualSize
                    if d.name == "disk" {
                        try await img.setBacking(path: path + ".partial", base: (base.path, base.image.format))
                        guard inspected.virtualSize >= base.image.virtualSize else { throw NimbusError(.internal, "the root disk is smaller than its image") }
                    }
                    guard rename(path + ".partial", path) == 0 else { throw FileIO.Failure(what: "cannot rename", path: path, code: errno) }
                }
                let rootNow = virtualSizes["disk"] ?? 0
                let rootBytes = max(rootNow, spec.rootGB > 0 ? UInt64(spec.rootGB) * Self.gib : 0)
                if rootBytes > rootNow { try await img.resize(path: paths.rootDisk, sizeBytes: rootBytes) }
                if spec.ephemeralGB > 0, FileIO.exists(paths.ephemeralDisk) {
                    let wanted = UInt64(spec.ephemeralGB) * Self.gib
                    if wanted > virtualSizes["disk.eph0"] ?? 0 { try await img.resize(path: paths.ephemeralDisk, sizeBytes: wanted) }
                }
                let record = InstanceRecord(spec: spec, base: base, rootDiskBytes: rootBytes)
                try await createDisks(record, paths, keepExisting: true)
                try record.save(paths.record)
                try await setPower(record, paths, on: powerOn)
            } catch {
                logger.warning("moving \(spec.id) in failed, cleaning up: \(error)")
                try? await stopGuest(paths, acpiTimeout: .zero)
                try? FileIO.removeTree(paths.dir)
                throw error
            }
        }
    }

    // MARK: live

    /// The writable disks a live migration mirrors (the config drive is written by the
    /// destination from the same spec; a rescued guest is not migrated).
    static func mirroredNodes(_ r: InstanceRecord) -> [String] {
        ["root"] + (r.hasEphemeral ? ["ephemeral0"] : []) + (r.hasSwap ? ["swap"] : [])
    }

    public func prepareIncoming(_ spec: InstanceSpec, image: any ImageSource, address: String) async throws -> String {
        try spec.validate(image: image)
        let paths = layout.instance(spec.id)
        try paths.checkSocketPaths()
        return try await locks.withLock(spec.id) {
            if FileIO.exists(paths.record), let target = try? FileIO.read(incomingURI(paths), count: 1024),
               GuestProcess(paths: paths, runner: runner).pid() != nil {
                return String(decoding: target, as: UTF8.self)   // waiting already
            }
            try? await stopGuest(paths, acpiTimeout: .zero)
            try FileIO.removeTree(paths.dir)
            let base = try await cache.fetch(image)
            let rootBytes = try Self.rootDiskBytes(spec, image: base.image)
            try FileIO.makeDirectory(paths.dir)
            do {
                let record = InstanceRecord(spec: spec, base: base, rootDiskBytes: rootBytes)
                try await createDisks(record, paths)
                try record.save(paths.record)
                try await launch(record, paths, incoming: true)
                let nbdPort = try FreePort.tcp(host: address)
                let nodes = Self.mirroredNodes(record)
                let target: LiveMigrationTarget = try await QMPClient(socketPath: paths.qmp).session { s in
                    // The disks are written by the source's mirror jobs over NBD (libvirt's way for
                    // storage that is not shared), memory and devices by the migration stream.
                    try s.execute("nbd-server-start", ["addr": ["type": "inet", "data": ["host": .string(address), "port": .string(String(nbdPort))]]])
                    for node in nodes { try s.execute("nbd-server-add", ["device": .string(node), "writable": true]) }
                    let host = address.utf8.contains(UInt8(ascii: ":")) ? "[\(address)]" : address
                    try s.execute("migrate-incoming", ["uri": .string("tcp:\(host):0")])
                    // QEMU names the port it bound in query-migrate's socket-address.
                    for _ in 0..<200 {
                        let info = try s.execute("query-migrate")
                        if case .array(let addresses)? = info["socket-address"], let port = addresses.first?["port"]?.stringValue {
                            return LiveMigrationTarget(migrateURI: "tcp:\(host):\(port)", nbdHost: address, nbdPort: nbdPort, disks: nodes)
                        }
                        usleep(10_000)
                    }
                    throw NimbusError(.internal, "QEMU did not say where it listens for the migration")
                }
                let text = target.serialized
                try FileIO.writeAtomically(incomingURI(paths), Array(text.utf8), mode: 0o600)
                return text
            } catch {
                logger.warning("preparing \(spec.id) for a live migration failed, cleaning up: \(error)")
                try? await stopGuest(paths, acpiTimeout: .zero)
                try? FileIO.removeTree(paths.dir)
                throw error
            }
        }
    }

    public func liveMigrate(_ id: InstanceID, to destination: String) async throws {
        let target = try LiveMigrationTarget(parsing: destination)
        try await locks.withLock(id) {
            if let done = try? FileIO.read(migratedMarker(id), count: 1024), done == Array(destination.utf8) { return }
            let paths = try existing(id)
            let record = try InstanceRecord.load(paths.record)
            guard record.rescue == nil else { throw NimbusError(.conflict, "a rescued guest is not migrated") }
            let nodes = Self.mirroredNodes(record)
            guard Set(nodes) == Set(target.disks) else {
                throw NimbusError(.conflict, "the destination exports disks \(target.disks), this guest has \(nodes)")
            }
            let process = GuestProcess(paths: paths, runner: runner)
            guard let pid = process.pid() else { throw NimbusError(.conflict, "Instance \(id) has no running guest to migrate") }
            let control = QMPClient(socketPath: paths.qmp)
            // Continued after a failure only if it ran before (a paused guest stays paused).
            let wasRunning = (try? await control.execute("query-status")["status"]?.stringValue) == "running"
            defer { migrationControls.withLock { $0[id] = nil } }
            let aborted: @Sendable () throws -> Void = { [self] in
                if migrationControls.withLock({ $0[id] }) == .abort { throw NimbusError(.conflict, "the live migration was aborted") }
            }
            do {
                try aborted()
                try await control.session { s in
                    for node in nodes {
                        try s.execute("blockdev-add", ["driver": "nbd", "node-name": .string("mig-" + node), "export": .string(node),
                                                       "server": ["type": "inet", "host": .string(target.nbdHost), "port": .string(String(target.nbdPort))]])
                        // `top`: only what the guest wrote; the destination has the same base image.
                        try s.execute("blockdev-mirror", ["job-id": .string("mig-" + node), "device": .string(node),
                                                          "target": .string("mig-" + node), "sync": "top"])
                    }
                    try Self.waitForMirrors(s, nodes.map { "mig-" + $0 }, check: aborted)
                    try aborted()
                    try s.execute("migrate-set-parameters", ["max-bandwidth": .int(Self.migrationBandwidth)])
                    try s.execute("migrate", ["uri": .string(target.migrateURI)])
                    // force_complete asked before the stream started: pause now (the stream converges)
                    if self.migrationControls.withLock({ $0[id] }) == .forceComplete { _ = try s.execute("stop") }
                    try Self.waitForMigration(s, check: aborted)
                    // The guest is stopped here: ending the mirrors flushes the last writes.
                    for node in nodes { try s.execute("block-job-cancel", ["device": .string("mig-" + node)]) }
                    try Self.waitForJobsGone(s, nodes.map { "mig-" + $0 })
                }
            } catch {
                // The guest goes on here: stop what may still run, continue it if QEMU stopped it.
                _ = try? await control.execute("migrate_cancel")
                for node in nodes {
                    _ = try? await control.execute("block-job-cancel", ["device": .string("mig-" + node), "force": true])
                }
                try? await Task.sleep(for: .milliseconds(200))
                for node in nodes { _ = try? await control.execute("blockdev-del", ["node-name": .string("mig-" + node)]) }
                if wasRunning, let status = try? await control.execute("query-status")["status"]?.stringValue,
                   status == "postmigrate" || status == "paused" {
                    _ = try? await control.execute("cont")
                }
                throw error
            }
            // The destination has everything: this copy goes (Nova's post_live_migration).
            try FileIO.writeAtomically(migratedMarker(id), Array(destination.utf8), mode: 0o600)
            let quit = (try? await control.execute("quit")) != nil
            let exited = quit ? await process.waitForExit(pid, timeout: .seconds(10)) : false
            if !exited { try await process.kill(pid) }
            try FileIO.removeTree(paths.dir)
            if let sockets = paths.socketDir { try? FileIO.removeTree(sockets) }
        }
    }

    /// Through the status monitor: the control monitor is held by `liveMigrate`'s session (and
    /// the instance's lock by `liveMigrate` itself) while the stream runs.
    public func controlMigration(_ id: InstanceID, _ action: MigrationControl) async throws {
        let paths = try existing(id)
        migrationControls.withLock { $0[id] = action }
        let status = QMPClient(socketPath: paths.statusQMP, timeout: .seconds(5))
        let streaming = try await status.execute("query-migrate")["status"]?.stringValue.map {
            ["setup", "active", "pre-switchover", "device"].contains($0)
        } ?? false
        switch action {
        case .forceComplete:
            if streaming { _ = try await status.execute("stop") }
        case .abort:
            if streaming { _ = try await status.execute("migrate_cancel") }
            // still mirroring the disks: ending a mirror fails the migration as well
            if case .array(let jobs) = try await status.execute("query-block-jobs") {
                for job in jobs {
                    if let device = job["device"]?.stringValue, device.hasBytePrefix("mig-") {
                        _ = try? await status.execute("block-job-cancel", ["device": .string(device), "force": true])
                    }
                }
            }
        }
    }

    /// Polls `query-block-jobs` until every mirror is ready (in sync, mirroring new writes).
    static func waitForMirrors(_ s: QMPSession, _ jobs: [String], check: () throws -> Void = {}) throws {
        let deadline = ContinuousClock.now + migrationTimeout
        while true {
            try check()
            guard case .array(let list) = try s.execute("query-block-jobs") else { throw NimbusError(.internal, "query-block-jobs answered no list") }
            var ready = 0
            for job in jobs {
                guard let j = list.first(where: { $0["device"]?.stringValue == job }) else {
                    throw NimbusError(.internal, "the disk mirror \(job) ended before it was in sync")
                }
                if j["ready"] == .bool(true) { ready += 1 }
            }
            if ready == jobs.count { return }
            guard ContinuousClock.now < deadline else { throw NimbusError(.internal, "the disk mirrors were not in sync in time") }
            usleep(20_000)
        }
    }

    static func waitForJobsGone(_ s: QMPSession, _ jobs: [String]) throws {
        for _ in 0..<3000 {
            guard case .array(let list) = try s.execute("query-block-jobs") else { return }
            if !list.contains(where: { j in jobs.contains { $0 == j["device"]?.stringValue } }) { return }
            usleep(10_000)
        }
        throw NimbusError(.internal, "the disk mirrors did not end")
    }

    public func finishIncoming(_ id: InstanceID, run: Bool) async throws {
        let paths = try existing(id)
        try await locks.withLock(id) {
            if FileIO.exists(incomingURI(paths)) {
                try await QMPClient(socketPath: paths.qmp).session { s in
                    try Self.waitWhileIncoming(s)
                    _ = try? s.execute("nbd-server-stop")
                }
                unlink(incomingURI(paths))
            }
            let status = try await QMPClient(socketPath: paths.qmp).execute("query-status")["status"]?.stringValue
            if run, status == "paused" || status == "prelaunch" { _ = try await QMPClient(socketPath: paths.qmp).execute("cont") }
        }
    }

    /// Markers of live migrations that finished a day ago (the controller has long heard of them).
    func sweepMigratedMarkers() {
        let cutoff = Date().addingTimeInterval(-86_400)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.instancesDir)) ?? [] where name.hasByteSuffix(".migrated") {
            let path = layout.instancesDir + "/" + name
            if let m = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date, m < cutoff { unlink(path) }
        }
    }
}

/// Where a live migration's destination waits: its migration stream URI and the NBD server
/// exporting its empty disks (by node name). Travels between the nodes as one line of text.
struct LiveMigrationTarget: Equatable {
    var migrateURI: String
    var nbdHost: String
    var nbdPort: Int
    var disks: [String]

    var serialized: String {
        JSONValue.object(["migrate": .string(migrateURI), "nbd_host": .string(nbdHost), "nbd_port": .int(Int64(nbdPort)),
                          "disks": .array(disks.map { .string($0) })]).serializedString()
    }

    init(migrateURI: String, nbdHost: String, nbdPort: Int, disks: [String]) {
        self.migrateURI = migrateURI; self.nbdHost = nbdHost; self.nbdPort = nbdPort; self.disks = disks
    }

    init(parsing text: String) throws(NimbusError) {
        guard let v = try? JSONValue.parse(Array(text.utf8)), let uri = v["migrate"]?.stringValue, uri.hasBytePrefix("tcp:"),
              let host = v["nbd_host"]?.stringValue, case .int(let port)? = v["nbd_port"], (1...65535).contains(port),
              case .array(let disks)? = v["disks"] else {
            throw .badRequest("not a live migration target: \(text)")
        }
        self.init(migrateURI: uri, nbdHost: host, nbdPort: Int(port), disks: disks.compactMap(\.stringValue))
    }
}

/// A TCP port free on `host` now (bound to port 0, then closed): for QEMU's NBD server, which
/// does not say which port it bound.
enum FreePort {
    static func tcp(host: String) throws(NimbusError) -> Int {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "0", &hints, &result) == 0, let ai = result else { throw .badRequest("not a numeric address: \(host)") }
        defer { freeaddrinfo(result) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NimbusError(.internal, "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { throw NimbusError(.internal, "bind \(host): \(String(cString: strerror(errno)))") }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw NimbusError(.internal, "getsockname: \(String(cString: strerror(errno)))") }
        let family = storage.ss_family
        let port: UInt16 = withUnsafePointer(to: &storage) { p in
            if family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return Int(port)
    }
}
