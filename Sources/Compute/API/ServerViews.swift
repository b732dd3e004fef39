import Foundation
import NimbusCore

/// Nova's server views (`nova/api/openstack/compute/views/servers.py`) by microversion.
extension ComputeAPI {
    /// `hostId`: sha224 of project id and host, so users can tell co-located servers apart
    /// without learning host names.
    static func hostID(_ i: Instance) -> String {
        guard let host = i.host else { return "" }
        return Hex.encode(SHA224.hash(Array((i.projectID + host).utf8)))
    }

    /// Python's `str(datetime)` of a naive time: what `OS-SRV-USG:*_at` shows.
    static func naive(_ d: Date?) -> JSONValue {
        guard let d else { return .null }
        return .string(NovaTime.micros(d).replacingBytes("T", with: " "))
    }

    /// `single`: a single server's view (show, update, rebuild), which at 2.71 and later lists
    /// its server groups; listings do not.
    func serverView(_ i: Instance, _ v: NovaVersion, _ c: Caller, hosts: [Name: ComputeHost], single: Bool = false) -> JSONValue {
        let target = ["project_id": i.projectID]
        var o: JSONObject = [
            "id": .string(i.id), "name": .string(i.name), "status": .string(i.status), "tenant_id": .string(i.projectID),
            "user_id": .string(i.userID), "metadata": .object(JSONObject(names: i.metadata.mapValues { JSONValue.string($0) })),
            "hostId": .string(Self.hostID(i)), "created": .string(NovaTime.format(i.createdAt)), "updated": .string(NovaTime.format(i.updatedAt)),
            "addresses": .object(i.deleted ? [:] : service.network?.addresses(instance: i.id, project: i.projectID) ?? [:]), "accessIPv4": .string(i.accessIPv4 ?? ""), "accessIPv6": .string(i.accessIPv6 ?? ""),
            "links": links("servers", i.id), "OS-DCF:diskConfig": "MANUAL",
            "image": i.imageID.map { ["id": .string($0), "links": [["rel": "bookmark", "href": .string("\(publicURL)/images/\($0)")]]] } ?? "",
            "key_name": JSONValue(i.keyName), "config_drive": (i.configDrive || service.settings.forceConfigDrive) ? "True" : "",
            "OS-EXT-AZ:availability_zone": .string(i.availabilityZone ?? ""),
            "OS-EXT-STS:vm_state": .string(i.vmState.rawValue), "OS-EXT-STS:task_state": JSONValue(i.taskState?.rawValue),
            "OS-EXT-STS:power_state": .int(Int64(i.powerState)),
            "OS-SRV-USG:launched_at": Self.naive(i.launchedAt), "OS-SRV-USG:terminated_at": Self.naive(i.terminatedAt),
            "os-extended-volumes:volumes_attached": .array(i.volumes.map { a in
                v.atLeast(3) ? ["id": .string(a.volumeID), "delete_on_termination": .bool(a.deleteOnTermination)] : ["id": .string(a.volumeID)]
            }),
        ]
        if let groups = service.network?.securityGroups(instance: i.id, project: i.projectID), !i.deleted {
            if !groups.isEmpty { o["security_groups"] = .array(groups.map { ["name": .string($0)] }) }
        } else {
            o["security_groups"] = [["name": "default"]]
        }
        if ["BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"].contains(i.status) { o["progress"] = .int(Int64(i.progress)) }
        if single, v.atLeast(71) { o["server_groups"] = .array(i.groupID.map { [.string($0)] } ?? []) }
        o["flavor"] = flavorSummary(i.flavor, v, c, target: target)
        if let fault = i.fault, ["ERROR", "DELETED"].contains(i.status) {
            var f: JSONObject = ["code": .int(Int64(fault.code)), "message": .string(fault.message), "created": .string(NovaTime.format(fault.created))]
            // Nova shows details to admins, or when the fault is not an internal error.
            if let d = fault.details, c.isAdmin || fault.code != 500 { f["details"] = .string(d) }
            o["fault"] = .object(f)
        }
        let extended = allows("os_compute_api:os-extended-server-attributes", c, target: target)
        if extended {
            o["OS-EXT-SRV-ATTR:host"] = JSONValue(i.host)
            o["OS-EXT-SRV-ATTR:hypervisor_hostname"] = JSONValue(i.node)
            o["OS-EXT-SRV-ATTR:instance_name"] = .string("instance-" + i.id.prefix(8))
            if v.atLeast(3) {
                o["OS-EXT-SRV-ATTR:hostname"] = .string(i.hostname)
                o["OS-EXT-SRV-ATTR:reservation_id"] = .string(i.reservationID)
                o["OS-EXT-SRV-ATTR:launch_index"] = .int(Int64(i.launchIndex))
                o["OS-EXT-SRV-ATTR:kernel_id"] = ""
                o["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
                o["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
                o["OS-EXT-SRV-ATTR:user_data"] = JSONValue(i.userData)
            }
        } else if v.atLeast(90) {
            o["OS-EXT-SRV-ATTR:hostname"] = .string(i.hostname)
        }
        if v.atLeast(9) { o["locked"] = .bool(i.locked) }
        if v.atLeast(16), allows("os_compute_api:servers:show:host_status", c, target: target) {
            o["host_status"] = .string(Self.hostStatus(i, hosts))
        }
        if v.atLeast(19) { o["description"] = JSONValue(i.description) }
        if v.atLeast(26) { o["tags"] = JSONValue(i.tags) }
        if v.atLeast(63) { o["trusted_image_certificates"] = .null }
        if v.atLeast(73) { o["locked_reason"] = JSONValue(i.lockedReason) }
        if v.atLeast(96) { o["pinned_availability_zone"] = JSONValue(i.requestedZone) }
        return .object(o)
    }

    /// The update and rebuild answers before 2.75: Nova's view without the extended attributes
    /// (zone, config drive, key name, extended status and server attributes, usage times,
    /// volumes, security groups, host status), which `GET` shows.
    /// Rebuild's answer keeps `key_name` from 2.54 and never shows `OS-EXT-SRV-ATTR:user_data`
    /// (`user_data` is added by the caller from 2.57).
    func updateView(_ i: Instance, _ v: NovaVersion, _ c: Caller, hosts: [Name: ComputeHost], rebuild: Bool = false) -> JSONObject {
        guard case .object(var o) = serverView(i, v, c, hosts: hosts, single: true) else { return [:] }
        if rebuild { o["OS-EXT-SRV-ATTR:user_data"] = nil }
        guard !v.atLeast(75) else { return o }
        for key in o.keys where key.hasBytePrefix("OS-EXT-") || key.hasBytePrefix("OS-SRV-USG:") {
            o[key] = nil
        }
        for key in ["config_drive", "os-extended-volumes:volumes_attached", "security_groups", "host_status"] { o[key] = nil }
        if !(rebuild && v.atLeast(54)) { o["key_name"] = nil }
        return o
    }

    /// `flavor`: a link before 2.47, the embedded copy (extra specs by policy) from then on.
    func flavorSummary(_ f: Flavor, _ v: NovaVersion, _ c: Caller, target: [String: String]) -> JSONValue {
        guard v.atLeast(47) else {
            return ["id": .string(f.id), "links": [["rel": "bookmark", "href": .string("\(publicURL)/flavors/\(f.id)")]]]
        }
        var o: JSONObject = ["vcpus": .int(Int64(f.vcpus)), "ram": .int(Int64(f.memoryMB)), "disk": .int(Int64(f.rootGB)),
                             "ephemeral": .int(Int64(f.ephemeralGB)), "swap": .int(Int64(f.swapMB)), "original_name": .string(f.name)]
        if allows("os_compute_api:servers:show:flavor-extra-specs", c, target: target) {
            o["extra_specs"] = .object(JSONObject(names: f.extraSpecs.mapValues { JSONValue.string($0) }))
        }
        return .object(o)
    }

    /// Nova's `host_status`: UP, DOWN, MAINTENANCE (disabled) or UNKNOWN; "" without a host.
    static func hostStatus(_ i: Instance, _ hosts: [Name: ComputeHost]) -> String {
        guard let host = i.host, let h = hosts[Name(host)] else { return i.host == nil ? "" : "UNKNOWN" }
        if !h.isUp() { return "DOWN" }
        return h.disabled ? "MAINTENANCE" : "UP"
    }

    /// The summary of a server in `GET /servers`.
    func serverSummary(_ i: Instance) -> JSONValue {
        ["id": .string(i.id), "name": .string(i.name), "links": links("servers", i.id)]
    }
}
