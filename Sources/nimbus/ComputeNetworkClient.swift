import Compute
import ComputeNode
import Foundation
import Networking
import NimbusCore

/// The compute service's view of the network service in this process (Nova's
/// `network.neutron.API`): ports for servers, bound to their hosts, shown as `addresses`.
struct ComputeNetworkClient: NetworkClient {
    let network: NetworkService

    static func actor(_ caller: AuthContext) -> NetworkActor {
        NetworkActor(projectID: caller.projectID ?? "", isAdmin: caller.hasRole("admin"))
    }

    /// Neutron's errors as Nova passes them on: what the user asked for is wrong (400), or a
    /// port is taken (409).
    static func translate(_ e: any Error) -> any Error {
        guard let n = e as? NimbusError, let type = NeutronFault.type(of: n) else { return e }
        switch type {
        case "PortInUse": return NimbusError.conflict(n.message)
        // Nova's FixedIpAlreadyInUse: a 400 at create, a 409 at interface attach.
        case "IpAddressAlreadyAllocated", "IpAddressInUse": return NimbusError(.badRequest, n.message, detail: NetworkClientErrors.addressInUse)
        case "OverQuota": return NimbusError.forbidden("Maximum number of ports exceeded")
        default: return n.status >= 500 ? n : NimbusError.badRequest(n.message)
        }
    }

    func resolve(_ requested: [RequestedNIC]?, project: String, caller: AuthContext) async throws -> [RequestedNIC] {
        var a = Self.actor(caller)
        if a.projectID.isEmpty && project.isEmpty { return [] }
        if !project.isEmpty { a = NetworkActor(projectID: project, isAdmin: a.isAdmin) }
        try await network.ensureDefaultSecurityGroup(project: a.projectID)
        let s = network.state
        guard let requested else {
            // Nova with no networks asked for: the one network the project can use.
            let candidates = s.all(.network).filter { n in
                n["router:external"]?.boolValue != true
                    && (n["project_id"]?.stringValue?.sameBytes(as: a.projectID) == true || network.isShared(n, with: a.projectID, in: s))
            }
            if candidates.count > 1 {
                throw NimbusError.conflict("Multiple possible networks found, use a Network ID to be more specific.")
            }
            return candidates.map { RequestedNIC(networkID: $0["id"]?.stringValue) }
        }
        for r in requested {
            if let p = r.portID {
                guard let port = s[.port, p], a.isAdmin || port["project_id"]?.stringValue?.sameBytes(as: a.projectID) == true else {
                    throw NimbusError.badRequest("Port id \(p) could not be found.")
                }
                // Only the instance's project's ports become its interfaces (Nova's PortNotUsable).
                guard port["project_id"]?.stringValue?.sameBytes(as: a.projectID) == true else {
                    throw NimbusError.badRequest("Port \(p) not usable for instance.")
                }
                if !(port["device_id"]?.stringValue ?? "").isEmpty { throw NimbusError.conflict("Port \(p) is still in use.") }
            } else if let id = r.networkID {
                guard let n = s[.network, id], network.canUse(n, a, in: s) || (n["router:external"]?.boolValue == true && a.isAdmin) else {
                    throw NimbusError.badRequest("Network \(id) could not be found.")
                }
                if n["router:external"]?.boolValue == true && !a.isAdmin {
                    throw NimbusError.forbidden("It is not allowed to create an interface on external network \(id)")
                }
                if s.subnets(ofNetwork: id).isEmpty {
                    throw NimbusError.badRequest("Network \(id) requires a subnet in order to boot instances on.")
                }
            }
            if let ip = r.fixedIP, IPAddress(ip) == nil { throw NimbusError.badRequest("Invalid fixed IP address (\(ip))") }
            // Nova creates ports with the user's token: a fixed address on a network the user
            // does not own is refused by Neutron's policy (create_port:fixed_ips:ip_address).
            if r.fixedIP != nil, let id = r.networkID, let n = s[.network, id], !a.isAdmin,
               n["project_id"]?.stringValue?.sameBytes(as: a.projectID) != true {
                throw NimbusError.forbidden("Policy doesn't allow create_port:fixed_ips:ip_address to be performed on network \(id).")
            }
        }
        return requested
    }

    func allocate(instance: String, project: String, zone: String?, _ nics: [RequestedNIC], securityGroups: [String],
                  caller: AuthContext) async throws -> [String] {
        let a = NetworkActor(projectID: project, isAdmin: caller.hasRole("admin"))
        let owner = "compute:" + (zone ?? "nova")
        let s = network.state
        var groupIDs: [JSONValue]?
        if !securityGroups.isEmpty {
            groupIDs = try securityGroups.map { name in
                let matches = s.all(.securityGroup).filter { g in
                    g["project_id"]?.stringValue?.sameBytes(as: project) == true
                        && (g["name"]?.stringValue?.sameBytes(as: name) == true || g["id"]?.stringValue == name)
                }
                guard let g = matches.first else { throw NimbusError.badRequest("Security group \(name) not found for project \(project).") }
                if matches.count > 1 { throw NimbusError.conflict("Multiple security groups found matching '\(name)'. Use an ID to be more specific.") }
                return g["id"]!
            }
        }
        var created = [String]()
        do {
            for nic in nics {
                if let portID = nic.portID {
                    _ = try await network.updatePort(portID, ["device_id": .string(instance), "device_owner": .string(owner)], actor: a)
                    continue
                }
                var body: JSONObject = ["network_id": .string(nic.networkID ?? ""), "project_id": .string(project),
                                        "device_id": .string(instance), "device_owner": .string(owner)]
                if let ip = nic.fixedIP { body["fixed_ips"] = [["ip_address": .string(ip)]] }
                if let groupIDs { body["security_groups"] = .array(groupIDs) }
                let port = try await network.createPort(try ResourceSpecs.prepareCreate(.port, body), actor: a)
                created.append(port["id"]!.stringValue!)
            }
        } catch {
            try? await deallocate(instance: instance, project: project, created: created)
            throw Self.translate(error)
        }
        return created
    }

    func ports(_ instance: String, project: String, _ s: NetworkState, order: [String] = []) -> [JSONObject] {
        s.ports(ofDevice: instance).filter { ($0["device_owner"]?.stringValue ?? "").hasBytePrefix("compute:")
            && $0["project_id"]?.stringValue?.sameBytes(as: project) == true }
            .sorted { a, b in
                let ia = order.firstIndex(of: a["id"]?.stringValue ?? "") ?? Int.max, ib = order.firstIndex(of: b["id"]?.stringValue ?? "") ?? Int.max
                if ia != ib { return ia < ib }
                let ca = a["created_at"]?.stringValue ?? "", cb = b["created_at"]?.stringValue ?? ""
                return ca != cb ? ca < cb : (a["id"]?.stringValue ?? "") < (b["id"]?.stringValue ?? "")
            }
    }

    func bind(instance: String, project: String, host: String) async throws {
        for p in ports(instance, project: project, network.state) where p["binding:host_id"]?.stringValue?.sameBytes(as: host) != true {
            _ = try await network.updatePort(p["id"]!.stringValue!, ["binding:host_id": .string(host)], actor: NetworkActor(projectID: "", isAdmin: true))
        }
    }

    func nics(instance: String, project: String, order: [String]) -> [GuestNIC] {
        let s = network.state
        return ports(instance, project: project, s, order: order).compactMap { p in
            guard let id = p["id"]?.stringValue, let n = p["network_id"]?.stringValue, let mac = p["mac_address"]?.stringValue else { return nil }
            return GuestNIC(portID: id, networkID: n, mac: mac, mtu: Int(s[.network, n]?["mtu"]?.intValue ?? 1500))
        }
    }

    func addresses(instance: String, project: String) -> JSONObject {
        let s = network.state
        var out = JSONObject()
        for p in ports(instance, project: project, s) {
            let name = s[.network, p["network_id"]?.stringValue ?? ""]?["name"]?.stringValue ?? ""
            let mac = p["mac_address"] ?? .null
            var list = out[name]?.arrayValue ?? []
            for ip in NetworkState.fixedIPs(p) {
                list.append(["version": .int(Int64(ip.address.version)), "addr": .string(ip.address.description),
                             "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac])
                for f in s.floatingIPs(ofPort: p["id"]?.stringValue ?? "") where f["fixed_ip_address"]?.stringValue == ip.address.description {
                    list.append(["version": 4, "addr": f["floating_ip_address"] ?? .null, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac])
                }
            }
            out[name] = .array(list)
        }
        return out
    }

    func securityGroups(instance: String, project: String) -> [String] {
        let s = network.state
        var names = [String]()
        for p in ports(instance, project: project, s) {
            for g in p["security_groups"]?.arrayValue ?? [] {
                if let n = g.stringValue.flatMap({ s[.securityGroup, $0]?["name"]?.stringValue }), !names.contains(where: { $0.sameBytes(as: n) }) {
                    names.append(n)
                }
            }
        }
        return names
    }

    /// Nova's `network_data.json` (`nova/virt/netutils.py`): a link per port, a network per
    /// fixed address (DHCP or static), DNS servers as services.
    func networkData(instance: String, project: String) -> String {
        let s = network.state
        var links = [JSONValue](), networks = [JSONValue](), services = [JSONValue]()
        for (index, p) in ports(instance, project: project, s).enumerated() {
            guard let id = p["id"]?.stringValue else { continue }
            let device = GuestNIC.device(forPort: id)
            let mtu = s[.network, p["network_id"]?.stringValue ?? ""]?["mtu"] ?? 1500
            links.append(["id": .string(device), "vif_id": .string(id), "type": "bridge", "mtu": mtu, "ethernet_mac_address": p["mac_address"] ?? .null])
            for (n, ip) in NetworkState.fixedIPs(p).enumerated() {
                guard let sub = s[.subnet, ip.subnet], let cidr = IPNetwork(sub["cidr"]?.stringValue ?? "") else { continue }
                let v6 = ip.address.version == 6
                var o: JSONObject = ["id": .string("network\(index * 8 + n)"), "link": .string(device), "network_id": p["network_id"] ?? .null]
                if sub["enable_dhcp"]?.boolValue == true && !v6 {
                    o["type"] = "ipv4_dhcp"
                } else {
                    let mode = sub["ipv6_address_mode"]?.stringValue
                    o["type"] = .string(v6 ? (mode == "slaac" ? "ipv6_slaac" : mode == "dhcpv6-stateful" ? "ipv6_dhcpv6-stateful" : mode == "dhcpv6-stateless" ? "ipv6_dhcpv6-stateless" : "ipv6") : "ipv4")
                    o["ip_address"] = .string(ip.address.description)
                    o["netmask"] = .string(v6 ? String(cidr.prefixLength) : IPAddress(version: 4, value: ~(UInt128(1) << UInt128(32 - cidr.prefixLength) - 1)).description)
                    var routes = [JSONValue]()
                    if let gw = sub["gateway_ip"]?.stringValue {
                        routes.append(["network": v6 ? "::" : "0.0.0.0", "netmask": v6 ? "::" : "0.0.0.0", "gateway": .string(gw)])
                    }
                    o["routes"] = .array(routes)
                    o["services"] = .array((sub["dns_nameservers"]?.arrayValue ?? []).map { ["type": "dns", "address": $0] })
                }
                networks.append(.object(o))
                for d in sub["dns_nameservers"]?.arrayValue ?? [] where !services.contains(["type": "dns", "address": d]) {
                    services.append(["type": "dns", "address": d])
                }
            }
        }
        return JSONValue.object(["links": .array(links), "networks": .array(networks), "services": .array(services)]).serializedString()
    }

    func deallocate(instance: String, project: String, created: [String]) async throws {
        let admin = NetworkActor(projectID: "", isAdmin: true)
        for p in ports(instance, project: project, network.state) {
            guard let id = p["id"]?.stringValue else { continue }
            if created.contains(id) {
                try await network.deletePort(id, actor: admin, force: true)
            } else {
                _ = try await network.updatePort(id, ["device_id": "", "device_owner": "", "binding:host_id": ""], actor: admin)
            }
        }
        // A port created but never given the device (a failed allocate) goes too.
        for id in created where network.state[.port, id] != nil { try? await network.deletePort(id, actor: admin, force: true) }
    }

    /// The group `name` names for `caller`, as neutronclient's `find_resourceid_by_name_or_id`
    /// with the caller's project: an id the caller may see, else a name among the caller's
    /// project's groups.
    func findGroup(_ name: String, caller: AuthContext, _ s: NetworkState) throws -> JSONObject {
        let project = caller.projectID ?? ""
        if let g = s[.securityGroup, name], caller.hasRole("admin") || g["project_id"]?.stringValue?.sameBytes(as: project) == true { return g }
        let matches = s.all(.securityGroup).filter {
            $0["project_id"]?.stringValue?.sameBytes(as: project) == true && $0["name"]?.stringValue?.sameBytes(as: name) == true
        }
        if matches.count > 1 { throw NimbusError.conflict("Multiple security_group matches found for name '\(name)', use an ID to be more specific.") }
        guard let g = matches.first else { throw NimbusError.notFound("Security group \(name) is not found for project \(project)") }
        return g
    }

    func addSecurityGroup(_ group: String, instance: String, project: String, caller: AuthContext) async throws {
        let s = network.state
        let gid = try findGroup(group, caller: caller, s)["id"]!.stringValue!
        let ports = ports(instance, project: project, s)
        if ports.isEmpty { throw NimbusError.notFound("instance_id \(instance) could not be found as device id on any ports") }
        for p in ports where p["port_security_enabled"]?.boolValue == false || NetworkState.fixedIPs(p).isEmpty {
            throw NimbusError.badRequest("Network requires port_security_enabled and subnet associated in order to apply security groups.")
        }
        do {
            _ = try await network.changePortGroups(ports.compactMap { $0["id"]?.stringValue }, adding: gid,
                                                   actor: NetworkActor(projectID: project, isAdmin: caller.hasRole("admin")))
        } catch let e as NimbusError where e.kind == .conflict {
            throw e   // Nova's SecurityGroupConnectionStateConflict (409)
        } catch {
            throw Self.translate(error)
        }
    }

    func removeSecurityGroup(_ group: String, instance: String, project: String, caller: AuthContext) async throws {
        let s = network.state
        let gid = try findGroup(group, caller: caller, s)["id"]!.stringValue!
        let ports = ports(instance, project: project, s)
        if ports.isEmpty { throw NimbusError.notFound("instance_id \(instance) could not be found as device id on any ports") }
        let changed: Int
        do {
            changed = try await network.changePortGroups(ports.compactMap { $0["id"]?.stringValue }, removing: gid,
                                                         actor: NetworkActor(projectID: project, isAdmin: caller.hasRole("admin")))
        } catch {
            throw Self.translate(error)
        }
        if changed == 0 {
            throw NimbusError.notFound("Security group \(group) not associated with the instance \(instance)")
        }
    }

    func addFixedIP(network networkID: String, instance: String, project: String, caller: AuthContext) async throws {
        let s = network.state
        let subnets = s.subnets(ofNetwork: networkID).compactMap { $0["id"]?.stringValue }
        let actor = NetworkActor(projectID: caller.projectID ?? "", isAdmin: caller.hasRole("admin"))
        for p in ports(instance, project: project, s) where p["network_id"]?.stringValue?.sameBytes(as: networkID) == true {
            guard let id = p["id"]?.stringValue else { continue }
            for subnet in subnets {
                // Nova tries each subnet in turn and takes the first update Neutron accepts.
                let ips = (p["fixed_ips"]?.arrayValue ?? []) + [.object(["subnet_id": .string(subnet)])]
                do {
                    _ = try await network.updatePort(id, ["fixed_ips": .array(ips)], actor: actor)
                    return
                } catch {
                    continue
                }
            }
        }
        throw NimbusError.badRequest("Network could not be found for instance \(instance).")
    }

    func removeFixedIP(_ address: String, instance: String, project: String, caller: AuthContext) async throws {
        let s = network.state
        let wanted = IPAddress(address)
        let actor = NetworkActor(projectID: caller.projectID ?? "", isAdmin: caller.hasRole("admin"))
        for p in ports(instance, project: project, s) {
            guard let id = p["id"]?.stringValue else { continue }
            let ips = p["fixed_ips"]?.arrayValue ?? []
            let kept = ips.filter { ip in
                guard let text = ip["ip_address"]?.stringValue else { return true }
                if let wanted, let have = IPAddress(text) { return have != wanted }
                return !text.sameBytes(as: address)
            }
            guard kept.count != ips.count else { continue }
            do {
                _ = try await network.updatePort(id, ["fixed_ips": .array(kept)], actor: actor)
            } catch {
                throw Self.translate(error)
            }
            return
        }
        throw NimbusError.badRequest("Instance \(instance) does not have fixed IP '\(address)'.")
    }

    /// Nova's `_format_security_group` and `_format_security_group_rule` (the proxy's view).
    func securityGroupDetails(instance: String, project: String, caller: AuthContext) -> [JSONValue] {
        let s = network.state
        var ids = [String]()
        for p in ports(instance, project: project, s) {
            for g in p["security_groups"]?.arrayValue ?? [] { if let id = g.stringValue, !ids.contains(id) { ids.append(id) } }
        }
        // Only groups the caller may see (Nova reads them with the caller's token).
        let admin = caller.hasRole("admin"), mine = caller.projectID ?? ""
        ids = ids.filter { id in admin || s[.securityGroup, id]?["project_id"]?.stringValue?.sameBytes(as: mine) == true }
        // Sorted by project and name, as Nova sorts them.
        return ids.compactMap { id in s[.securityGroup, id].map { Self.novaGroup($0, s) } }.sorted { a, b in
            let ta = a["tenant_id"]?.stringValue ?? "", tb = b["tenant_id"]?.stringValue ?? ""
            if !ta.sameBytes(as: tb) { return ta.bytesPrecede(tb) }
            return (a["name"]?.stringValue ?? "").bytesPrecede(b["name"]?.stringValue ?? "")
        }.map { .object($0) }
    }

    static func novaGroup(_ g: JSONObject, _ s: NetworkState) -> JSONObject {
        let id = g["id"]?.stringValue ?? ""
        let rules = s.rules(ofGroup: id).filter { $0["direction"]?.stringValue == "ingress" }.map { JSONValue.object(novaRule($0, s)) }
        return ["id": .string(id), "name": g["name"] ?? "", "description": g["description"] ?? "", "tenant_id": g["project_id"] ?? .null,
                "rules": .array(rules)]
    }

    /// Nova's `_convert_to_nova_security_group_rule_format`: a Neutron rule's protocol, ports
    /// (a protocol without ports: 1-65535 for TCP and UDP, -1 otherwise), remote group and CIDR
    /// (`0.0.0.0/0` when none).
    static func novaRuleFields(_ r: JSONObject) -> (proto: String?, from: JSONValue, to: JSONValue, group: String?, cidr: String) {
        let proto = r["protocol"]?.stringValue
        var from = r["port_range_min"] ?? .null, to = r["port_range_max"] ?? .null
        if let p = proto, from == .null, to == .null {
            let tcpUDP = ["TCP", "UDP"].contains(p.uppercased())
            from = tcpUDP ? 1 : -1
            to = tcpUDP ? 65535 : -1
        }
        return (proto, from, to, r["remote_group_id"]?.stringValue, r["remote_ip_prefix"]?.stringValue ?? "0.0.0.0/0")
    }

    /// Nova's `_format_security_group_rule`.
    static func novaRule(_ r: JSONObject, _ s: NetworkState) -> JSONObject {
        let f = novaRuleFields(r)
        var group = JSONObject(), range = JSONObject()
        if let rg = f.group {
            let other = s[.securityGroup, rg]
            group = ["name": other?["name"] ?? .null, "tenant_id": other?["project_id"] ?? .null]
        } else {
            range = ["cidr": .string(f.cidr)]
        }
        return ["id": r["id"] ?? .null, "parent_group_id": r["security_group_id"] ?? .null, "ip_protocol": f.proto.map(JSONValue.string) ?? .null,
                "from_port": f.from, "to_port": f.to, "group": .object(group), "ip_range": .object(range)]
    }

    /// Nova's `_show_interface`/`interfaceAttachment` view of a port.
    static func interfaceView(_ p: JSONObject) -> JSONObject {
        ["port_state": p["status"] ?? .null, "port_id": p["id"] ?? .null, "net_id": p["network_id"] ?? .null, "mac_addr": p["mac_address"] ?? .null,
         "fixed_ips": .array(NetworkState.fixedIPs(p).map { ["subnet_id": .string($0.subnet), "ip_address": .string($0.address.description)] })]
    }

    func interfaces(instance: String, project: String) -> [JSONObject] {
        ports(instance, project: project, network.state).map(Self.interfaceView)
    }

    func release(port: String, instance: String, project: String, delete: Bool) async throws {
        guard ports(instance, project: project, network.state).contains(where: { $0["id"]?.stringValue == port }) else {
            throw NimbusError.notFound("Port \(port) could not be found.")
        }
        let admin = NetworkActor(projectID: "", isAdmin: true)
        if delete {
            try await network.deletePort(port, actor: admin, force: true)
        } else {
            _ = try await network.updatePort(port, ["device_id": "", "device_owner": "", "binding:host_id": ""], actor: admin)
        }
    }
}
