import Foundation
import NimbusCore

/// The flavor copy an instance keeps, as JSON.
enum FlavorDocument {
    static func encode(_ f: Flavor) -> JSONValue {
        ["id": .string(f.id), "name": .string(f.name), "memory_mb": .int(Int64(f.memoryMB)), "vcpus": .int(Int64(f.vcpus)),
         "root_gb": .int(Int64(f.rootGB)), "ephemeral_gb": .int(Int64(f.ephemeralGB)), "swap": .int(Int64(f.swapMB)),
         "rxtx_factor": .double(f.rxtxFactor), "is_public": .bool(f.isPublic), "description": JSONValue(f.description),
         "extra_specs": .object(JSONObject(names: f.extraSpecs.mapValues { JSONValue.string($0) }))]
    }

    static func decode(_ v: JSONValue) -> Flavor {
        func int(_ k: String) -> Int { Int(v[k]?.intValue ?? 0) }
        var f = Flavor(id: v["id"]?.stringValue ?? "", name: v["name"]?.stringValue ?? "", memoryMB: int("memory_mb"), vcpus: int("vcpus"),
                       rootGB: int("root_gb"), ephemeralGB: int("ephemeral_gb"), swapMB: int("swap"),
                       rxtxFactor: v["rxtx_factor"].flatMap { if case .double(let d) = $0 { d } else { $0.intValue.map(Double.init) } } ?? 1,
                       isPublic: v["is_public"]?.boolValue ?? true, description: v["description"]?.stringValue)
        f.extraSpecs = v["extra_specs"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        return f
    }
}

/// The instance attributes kept in the `doc` column.
enum InstanceDocument {
    static func encode(_ i: Instance) -> JSONValue {
        var o: JSONObject = [
            "metadata": .object(JSONObject(names: i.metadata.mapValues { JSONValue.string($0) })),
            "tags": JSONValue(i.tags), "config_drive": .bool(i.configDrive), "progress": .int(Int64(i.progress)),
            "key_data": JSONValue(i.keyData), "user_data": JSONValue(i.userData),
            "access_ip_v4": JSONValue(i.accessIPv4), "access_ip_v6": JSONValue(i.accessIPv6),
            "desired": ["power": .string(i.desired.power.rawValue), "reboot_count": .int(Int64(i.desired.rebootCount)),
                        "hard_reboot": .bool(i.desired.hardReboot)],
            "build_attempts": .int(Int64(i.buildAttempts)), "failed_hosts": JSONValue(i.failedHosts), "requested_zone": JSONValue(i.requestedZone),
            "locked_by": JSONValue(i.lockedBy), "requested_host": JSONValue(i.requestedHost), "same_host": JSONValue(i.sameHost),
            "different_host": JSONValue(i.differentHost), "group_id": JSONValue(i.groupID),
            "image_meta": .object(JSONObject(names: i.imageMeta.mapValues { JSONValue.string($0) })),
            "task_arguments": .object(JSONObject(i.taskArguments.mapValues { JSONValue.string($0) })),
            "old_flavor": i.oldFlavor.map(FlavorDocument.encode) ?? .null, "migration_id": JSONValue(i.migrationID),
            "shelved": .object(JSONObject(i.shelved.mapValues { JSONValue.string($0) })),
            "created_ports": JSONValue(i.createdPorts), "password": JSONValue(i.password),
            "interface_tags": .object(JSONObject(i.interfaceTags.mapValues { JSONValue.string($0) })),
            "volumes": .array(i.volumes.map { v in
                ["volume_id": .string(v.volumeID), "attachment_id": .string(v.attachmentID), "device": .string(v.device), "tag": JSONValue(v.tag),
                 "delete_on_termination": .bool(v.deleteOnTermination), "socket": .string(v.socketPath), "export": .string(v.export),
                 "read_only": .bool(v.readOnly), "state": .string(v.state.rawValue), "boot_index": v.bootIndex.map { .int(Int64($0)) } ?? .null,
                 "size_bytes": v.sizeBytes.map { .int($0) } ?? .null,
                 "qos": v.qos.isEmpty ? .null : .object(JSONObject(v.qos.mapValues { JSONValue.int($0) }))]
            }),
        ]
        if let f = i.fault {
            o["fault"] = ["code": .int(Int64(f.code)), "message": .string(f.message), "details": JSONValue(f.details),
                          "created": .int(Micros.of(f.created))]
        }
        return .object(o)
    }

    static func apply(_ v: JSONValue, to i: inout Instance) {
        i.metadata = v["metadata"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        i.tags = v["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        i.configDrive = v["config_drive"]?.boolValue ?? false
        i.progress = Int(v["progress"]?.intValue ?? 0)
        i.keyData = v["key_data"]?.stringValue
        i.userData = v["user_data"]?.stringValue
        i.accessIPv4 = v["access_ip_v4"]?.stringValue
        i.accessIPv6 = v["access_ip_v6"]?.stringValue
        if let d = v["desired"] {
            i.desired.power = d["power"]?.stringValue.flatMap(Instance.Desired.Power.init) ?? .running
            i.desired.rebootCount = Int(d["reboot_count"]?.intValue ?? 0)
            i.desired.hardReboot = d["hard_reboot"]?.boolValue ?? false
        }
        i.buildAttempts = Int(v["build_attempts"]?.intValue ?? 0)
        i.requestedZone = v["requested_zone"]?.stringValue
        i.lockedBy = v["locked_by"]?.stringValue
        i.failedHosts = v["failed_hosts"]?.arrayValue?.compactMap(\.stringValue) ?? []
        i.requestedHost = v["requested_host"]?.stringValue
        i.sameHost = v["same_host"]?.arrayValue?.compactMap(\.stringValue) ?? []
        i.differentHost = v["different_host"]?.arrayValue?.compactMap(\.stringValue) ?? []
        i.groupID = v["group_id"]?.stringValue
        i.imageMeta = Dictionary(v["image_meta"]?.objectValue?.sortedMembers.compactMap { k, v in v.stringValue.map { (Name(k), $0) } } ?? [],
                                 uniquingKeysWith: { a, _ in a })
        i.oldFlavor = v["old_flavor"].flatMap { $0 == .null ? nil : FlavorDocument.decode($0) }
        i.migrationID = v["migration_id"]?.stringValue
        i.createdPorts = v["created_ports"]?.arrayValue?.compactMap(\.stringValue) ?? []
        i.volumes = (v["volumes"]?.arrayValue ?? []).compactMap { e in
            guard let vid = e["volume_id"]?.stringValue, let aid = e["attachment_id"]?.stringValue,
                  let state = e["state"]?.stringValue.flatMap(Instance.AttachedVolume.State.init(rawValue:)) else { return nil }
            var a = Instance.AttachedVolume(volumeID: vid, attachmentID: aid, device: e["device"]?.stringValue ?? "", tag: e["tag"]?.stringValue,
                                            deleteOnTermination: e["delete_on_termination"]?.boolValue ?? false, socketPath: e["socket"]?.stringValue ?? "",
                                            export: e["export"]?.stringValue ?? "", readOnly: e["read_only"]?.boolValue ?? false, state: state,
                                            bootIndex: e["boot_index"]?.intValue.map { Int($0) })
            a.sizeBytes = e["size_bytes"]?.intValue
            a.qos = Dictionary((e["qos"]?.objectValue?.sortedMembers ?? []).compactMap { k, v in v.intValue.map { (k, $0) } },
                               uniquingKeysWith: { a, _ in a })
            return a
        }
        i.interfaceTags = Dictionary(v["interface_tags"]?.objectValue?.sortedMembers.compactMap { k, v in v.stringValue.map { (k, $0) } } ?? [],
                                     uniquingKeysWith: { a, _ in a })
        i.password = v["password"]?.stringValue
        i.shelved = Dictionary(v["shelved"]?.objectValue?.sortedMembers.compactMap { k, v in v.stringValue.map { (k, $0) } } ?? [],
                               uniquingKeysWith: { a, _ in a })
        i.taskArguments = Dictionary(v["task_arguments"]?.objectValue?.sortedMembers.compactMap { k, v in v.stringValue.map { (k, $0) } } ?? [],
                                     uniquingKeysWith: { a, _ in a })
        if let f = v["fault"], let code = f["code"]?.intValue, let message = f["message"]?.stringValue {
            i.fault = Instance.Fault(code: Int(code), message: message, details: f["details"]?.stringValue,
                                     created: Micros.date(f["created"]?.intValue ?? 0))
        }
    }
}
