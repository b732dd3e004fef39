import Compute
import Foundation
import Networking
import NimbusCore

/// Nova's security group proxy over the network service in this process (Nova's
/// `network/security_group_api.py` over neutronclient): what a project may see is its own groups
/// (all of them for an admin), as Neutron's default policy; Neutron's refusals come back as
/// Nova's (a conflict is Nova's `Invalid`, 400).
extension ComputeNetworkClient: NovaSecurityGroupProxy {
    /// Nova's `validate_id`: oslo's `is_uuid_like`.
    static func uuidLike(_ s: String) -> Bool { Format.uuid.accepts(s) }

    /// Neutron's answer as Nova gives it back: not found stays 404, a quota 403, the rest 400.
    static func novaError(_ e: any Error) -> any Error {
        guard let n = e as? NimbusError else { return e }
        switch n.kind {
        case .notFound: return NimbusError.notFound(n.message)
        case .forbidden where NeutronFault.type(of: n) == "OverQuota": return NimbusError.forbidden(n.message)
        default: return n.status >= 500 ? n : NimbusError.badRequest(n.message)
        }
    }

    func visibleGroup(_ id: String, caller: AuthContext, _ s: NetworkState) throws -> JSONObject {
        guard Self.uuidLike(id) else { throw NimbusError.badRequest("Security group id should be uuid") }
        guard let g = s[.securityGroup, id],
              caller.hasRole("admin") || g["project_id"]?.stringValue?.sameBytes(as: caller.projectID ?? "") == true else {
            throw NimbusError.notFound("Security group \(id) does not exist")
        }
        return g
    }

    func listGroups(caller: AuthContext, allProjects: Bool) -> [JSONObject] {
        let s = network.state
        let project = caller.projectID ?? ""
        let all = allProjects && caller.hasRole("admin")
        // In the network service's order; the API pages, then sorts as Nova does.
        return s.inIDOrder(.securityGroup).filter { all || $0["project_id"]?.stringValue?.sameBytes(as: project) == true }
            .map { Self.novaGroup($0, s) }
    }

    func showGroup(_ id: String, caller: AuthContext) throws -> JSONObject {
        let s = network.state
        return Self.novaGroup(try visibleGroup(id, caller: caller, s), s)
    }

    func createGroup(name: String, description: String, caller: AuthContext) async throws -> JSONObject {
        let project = caller.projectID ?? ""
        try await network.ensureDefaultSecurityGroup(project: project)
        do {
            let attrs = try ResourceSpecs.prepareCreate(.securityGroup, ["name": .string(name), "description": .string(description)])
            let g = try await network.createSecurityGroup(attrs, actor: NetworkActor(projectID: project, isAdmin: caller.hasRole("admin")))
            return Self.novaGroup(g, network.state)
        } catch {
            throw Self.novaError(error)
        }
    }

    func updateGroup(_ id: String, name: String, description: String, caller: AuthContext) async throws -> JSONObject {
        let g = try visibleGroup(id, caller: caller, network.state)
        do {
            let changes = try ResourceSpecs.prepareUpdate(.securityGroup, ["name": .string(name), "description": .string(description)])
            let updated = try await network.updateSecurityGroup(g["id"]!.stringValue!, changes)
            return Self.novaGroup(updated, network.state)
        } catch {
            throw Self.novaError(error)
        }
    }

    func deleteGroup(_ id: String, caller: AuthContext) async throws {
        let g = try visibleGroup(id, caller: caller, network.state)
        do {
            try await network.deleteSecurityGroup(g["id"]!.stringValue!, actor: NetworkActor(projectID: caller.projectID ?? "", isAdmin: caller.hasRole("admin")))
        } catch {
            throw Self.novaError(error)
        }
    }

    /// Nova's `_new_ingress_rule` checks, then one Neutron ingress rule.
    func createRule(_ rule: JSONObject, caller: AuthContext) async throws -> JSONObject {
        let s = network.state
        let parent = try visibleGroup(rule["parent_group_id"]?.stringValue ?? "", caller: caller, s)
        var remote: JSONObject?
        if let g = rule["group_id"], g != .null {
            remote = try visibleGroup(g.stringValue ?? "", caller: caller, s)
        }
        func text(_ v: JSONValue?) -> String? {
            switch v {
            case .string(let x)?: return x
            case .int(let i)?: return String(i)
            case .double(let d)?: return String(d)
            case .bool(let b)?: return b ? "True" : "False"
            default: return nil
            }
        }
        var proto = text(rule["ip_protocol"])
        var from = rule["from_port"].flatMap { $0 == .null ? nil : $0 }, to = rule["to_port"].flatMap { $0 == .null ? nil : $0 }
        var cidr: String?
        if remote != nil {
            let upper = proto?.uppercased() ?? ""
            if upper == "ICMP" && from == nil && to == nil { from = -1; to = -1 }
            else if (upper == "TCP" || upper == "UDP") && from == nil && to == nil { from = 1; to = 65535 }
        } else {
            let raw = text(rule["cidr"]) ?? ""
            cidr = raw.isEmpty ? "0.0.0.0/0" : (raw.removingPercentEncoding ?? raw)
            // oslo's `is_valid_cidr`: an address with a prefix length.
            guard let c = cidr, IPNetwork(c) != nil, c.containsByte("/") else {
                throw NimbusError.badRequest("\(raw) is not a valid IP network.")
            }
        }
        var fromPort: Int64?, toPort: Int64?
        if let p = proto, !p.isEmpty, let f = from, let t = to {
            guard let fi = text(f).flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }),
                  let ti = text(t).flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw NimbusError.badRequest(p.uppercased() == "ICMP" ? "Invalid input received: Type and Code must be integers for ICMP protocol type"
                                                                       : "Invalid input received: To and From ports must be integers")
            }
            let upper = p.uppercased()
            guard ["TCP", "UDP", "ICMP"].contains(upper) else {
                throw NimbusError.badRequest("Invalid IP protocol \(p).")
            }
            if upper != "ICMP" && fi > ti {
                throw NimbusError.badRequest("Invalid port range \(fi):\(ti). Former value cannot be greater than the later")
            }
            if upper != "ICMP" && (fi < 1 || ti > 65535) {
                throw NimbusError.badRequest("Invalid port range \(fi):\(ti). Valid \(upper) ports should be between 1-65535")
            }
            if upper == "ICMP" && (fi < -1 || fi > 255 || ti < -1 || ti > 255) {
                throw NimbusError.badRequest("Invalid port range \(fi):\(ti). For ICMP, the type:code must be valid")
            }
            proto = p
            fromPort = fi; toPort = ti
        } else if remote == nil {
            throw NimbusError.badRequest("Not enough parameters to build a valid rule.")
        } else {
            proto = nil   // Nova's `_new_ingress_rule`: a group rule without both ports is any protocol
        }
        if let c = cidr, let net = IPNetwork(c), net.prefixLength == 0, !(c.hasBytePrefix("0.0.0.0") || c.hasBytePrefix("::")) {
            throw NimbusError.badRequest("Bad prefix for network in cidr \(c)")
        }
        let parentID = parent["id"]!.stringValue!
        // Nova's `_rule_exists` over its own view of the group's rules (a rule with a remote
        // group never matches there: its CIDR reads `0.0.0.0/0`, the new rule's none).
        if remote == nil, s.rules(ofGroup: parentID).contains(where: { r in
            guard r["direction"]?.stringValue == "ingress" else { return false }
            let f = Self.novaRuleFields(r)
            return f.group == nil && f.cidr == cidr && f.proto == proto && f.from == (fromPort.map { .int($0) } ?? .null)
                && f.to == (toPort.map { .int($0) } ?? .null)
        }) {
            throw NimbusError.badRequest("This rule already exists in group \(parentID)")
        }
        var body: JSONObject = ["security_group_id": .string(parentID), "direction": "ingress",
                                "protocol": proto.map { .string($0.lowercased()) } ?? .null,
                                "remote_group_id": remote?["id"] ?? .null, "remote_ip_prefix": remote == nil ? .string(cidr!) : .null]
        body["ethertype"] = .string(cidr.flatMap(IPNetwork.init)?.network.version == 6 ? "IPv6" : "IPv4")
        // Nova sends no port for ICMP -1 (any type / code).
        if let f = fromPort, f != -1 { body["port_range_min"] = .int(f) }
        if let t = toPort, t != -1 { body["port_range_max"] = .int(t) }
        do {
            let attrs = try ResourceSpecs.prepareCreate(.securityGroupRule, body)
            let r = try await network.createSecurityGroupRule(attrs, actor: NetworkActor(projectID: parent["project_id"]?.stringValue ?? "",
                                                                                        isAdmin: caller.hasRole("admin")))
            return Self.novaRule(r, network.state)
        } catch let e as NimbusError where e.kind == .conflict {
            throw NimbusError.forbidden(e.message)   // Neutron's 409 is Nova's SecurityGroupLimitExceeded
        } catch {
            throw Self.novaError(error)
        }
    }

    func deleteRule(_ id: String, caller: AuthContext) async throws {
        guard Self.uuidLike(id) else { throw NimbusError.badRequest("Security group id should be uuid") }
        let s = network.state
        guard let r = s[.securityGroupRule, id] else { throw NimbusError.notFound("Security group rule \(id) does not exist") }
        _ = try visibleGroup(r["security_group_id"]?.stringValue ?? "", caller: caller, s)
        do {
            try await network.deleteSecurityGroupRule(id)
        } catch {
            throw Self.novaError(error)
        }
    }
}
