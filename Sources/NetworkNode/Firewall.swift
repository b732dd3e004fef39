import NimbusCore

/// Security groups as nftables rules, in two tables of the host's root namespace:
///
/// * `bridge nimbus-ports` (stateless, on the bridges): marks each frame with the port it came
///   from (high 16 bits of the mark) and the port it goes to (low 16 bits), and drops frames
///   and ARP that spoof a port's MAC or address;
/// * `inet nimbus-sg` (stateful: the bridges hand IP to the inet hooks with `nf_call_iptables`,
///   where conntrack works): by the marks, jumps to the port's egress or ingress chain, which
///   accept established traffic and what the port's groups allow, and drop the rest.
///
/// Ports without port security get no chain (all traffic passes), as in Neutron.
public enum Firewall {
    /// The tables of one cloud (`suffix`: which one, when several share a host).
    public static func tables(_ suffix: String) -> (bridge: String, inet: String) { ("nimbus-ports-" + suffix, "nimbus-sg-" + suffix) }

    static func quote(_ s: String) -> String { "\"" + s + "\"" }

    /// The whole ruleset (replacing the previous one atomically when loaded with `nft -f`).
    public static func ruleset(_ t: HostTopology, suffix: String) -> String {
        let (bridgeTable, inetTable) = tables(suffix)
        let ports = t.ports.filter(\.portSecurity).sorted { $0.id < $1.id }
        var out = "table bridge \(bridgeTable)\ndelete table bridge \(bridgeTable)\n"
        out += "table inet \(inetTable)\ndelete table inet \(inetTable)\n"
        if ports.isEmpty { return out }
        var b = "table bridge \(bridgeTable) {\n"
        b += "  chain port_marks {\n    type filter hook forward priority -200; policy accept;\n"
        for (n, p) in ports.enumerated() {
            let index = n + 1
            b += "    iifname \(quote(p.device)) meta mark set 0x\(hex(index << 16))\n"
        }
        for (n, p) in ports.enumerated() {
            b += "    oifname \(quote(p.device)) meta mark set meta mark or 0x\(hex(n + 1))\n"
        }
        b += "  }\n"
        // Anti-spoofing, stateless, where frames enter the bridge from a guest.
        b += "  chain port_spoofing {\n    type filter hook prerouting priority -200; policy accept;\n"
        for p in ports { b += "    iifname \(quote(p.device)) jump from_\(short(p))\n" }
        b += "  }\n"
        for p in ports {
            let macs = Set([p.mac] + p.allowedPairs.map(\.mac)).sorted()
            let v4 = p.addresses.filter { $0.version == 4 }.map(\.address) + p.allowedPairs.map(\.address).filter { !$0.containsByte(":") }
            let v6 = p.addresses.filter { $0.version == 6 }.map(\.address) + p.allowedPairs.map(\.address).filter { $0.containsByte(":") }
                + [linkLocal(p.mac)].compactMap { $0 }
            b += "  chain from_\(short(p)) {\n"
            b += "    ether saddr != { \(macs.joined(separator: ", ")) } drop\n"
            b += "    ether type arp arp saddr ip != { \(v4.isEmpty ? "0.0.0.0" : (v4 + ["0.0.0.0"]).joined(separator: ", ")) } drop\n"
            b += "    ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept\n"
            b += "    ether type ip ip saddr != { \(v4.isEmpty ? "255.255.255.255" : v4.joined(separator: ", ")) } drop\n"
            b += "    ether type ip6 ip6 saddr != { ::, \(v6.joined(separator: ", ")) } drop\n"
            b += "    ether type ip6 icmpv6 type nd-router-advert drop\n"
            b += "    ether type ip udp sport 67 drop\n"
            b += "    ether type ip6 udp sport 547 udp dport 546 drop\n"
            b += "  }\n"
        }
        b += "}\n"

        var i = "table inet \(inetTable) {\n"
        // Remote-group address sets.
        let remoteGroups = Set(ports.flatMap { p in p.groups.flatMap { t.groups[$0]?.rules.compactMap(\.remoteGroup) ?? [] } })
        for g in remoteGroups.sorted() {
            let members = t.groups[g]?.memberAddresses ?? []
            let v4 = members.filter { !$0.containsByte(":") }, v6 = members.filter { $0.containsByte(":") }
            i += "  set g\(shortID(g))_4 { type ipv4_addr; flags interval;\(v4.isEmpty ? "" : " elements = { \(v4.joined(separator: ", ")) };") }\n"
            i += "  set g\(shortID(g))_6 { type ipv6_addr; flags interval;\(v6.isEmpty ? "" : " elements = { \(v6.joined(separator: ", ")) };") }\n"
        }
        i += "  chain sg_forward {\n    type filter hook forward priority 0; policy accept;\n"
        i += "    meta mark & 0xffff0000 vmap { \(ports.enumerated().map { "0x\(hex(($0.offset + 1) << 16)) : jump egress_\(short($0.element))" }.joined(separator: ", ")) }\n"
        i += "    meta mark & 0x0000ffff vmap { \(ports.enumerated().map { "0x\(hex($0.offset + 1)) : jump ingress_\(short($0.element))" }.joined(separator: ", ")) }\n"
        i += "  }\n"
        for p in ports {
            let rules = p.groups.flatMap { t.groups[$0]?.rules ?? [] }
            let stateful = p.groups.allSatisfy { t.groups[$0]?.stateful ?? true }
            for direction in ["egress", "ingress"] {
                // Egress allows by returning, so that the ingress chain of a destination port on
                // this host is checked too; ingress allows by accepting.
                let allow = direction == "egress" ? "return" : "accept"
                i += "  chain \(direction)_\(short(p)) {\n"
                if stateful {
                    i += "    ct state established,related \(allow)\n    ct state invalid drop\n"
                }
                if direction == "ingress" {
                    i += "    meta nfproto ipv6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, mld-listener-query } \(allow)\n"
                    i += "    udp sport 67 udp dport 68 \(allow)\n"
                    i += "    meta nfproto ipv6 udp sport 547 udp dport 546 \(allow)\n"
                } else {
                    i += "    meta nfproto ipv6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, mld2-listener-report } \(allow)\n"
                    i += "    udp sport 68 udp dport 67 \(allow)\n"
                    i += "    meta nfproto ipv6 udp sport 546 udp dport 547 \(allow)\n"
                }
                for r in rules where r.direction == direction {
                    i += "    " + match(r, direction: direction) + " \(allow)\n"
                }
                i += "    drop\n"
                i += "  }\n"
            }
        }
        i += "}\n"
        return out + b + i
    }

    static func match(_ r: SecurityGroupRule, direction: String) -> String {
        var parts = [String]()
        let v6 = r.ethertype == "IPv6"
        parts.append("meta nfproto \(v6 ? "ipv6" : "ipv4")")
        let remoteField = direction == "ingress" ? "saddr" : "daddr"
        if let cidr = r.remoteCIDR {
            parts.append("\(v6 ? "ip6" : "ip") \(remoteField) \(cidr)")
        } else if let g = r.remoteGroup {
            parts.append("\(v6 ? "ip6" : "ip") \(remoteField) @g\(shortID(g))_\(v6 ? 6 : 4)")
        }
        if let p = r.proto {
            switch p {
            case 6, 17, 132, 33, 136:
                let name = [6: "tcp", 17: "udp", 132: "sctp", 33: "dccp", 136: "udplite"][p]!
                if let a = r.portMin, let b = r.portMax {
                    parts.append(a == b ? "\(name) dport \(a)" : "\(name) dport \(a)-\(b)")
                } else {
                    parts.append("meta l4proto \(p)")
                }
            case 1 where !v6:
                parts.append("meta l4proto icmp")
                if let type = r.portMin { parts.append("icmp type \(type)") }
                if let code = r.portMax { parts.append("icmp code \(code)") }
            case 58, 1:
                parts.append("meta l4proto ipv6-icmp")
                if let type = r.portMin { parts.append("icmpv6 type \(type)") }
                if let code = r.portMax { parts.append("icmpv6 code \(code)") }
            default:
                parts.append("meta l4proto \(p)")
            }
        }
        return parts.joined(separator: " ")
    }

    static func hex(_ n: Int) -> String { String(n, radix: 16) }
    static func short(_ p: PortWiring) -> String { shortID(p.id) }
    static func shortID(_ id: String) -> String { String(id.unicodeScalars.filter { $0 != "-" }.prefix(16).map(Character.init)) }

    /// The IPv6 link-local address a guest forms from its MAC.
    static func linkLocal(_ mac: String) -> String? {
        let hexes = mac.splitBytes(":").compactMap { UInt8($0, radix: 16) }
        guard hexes.count == 6 else { return nil }
        let b = [hexes[0] ^ 2, hexes[1], hexes[2], 0xFF, 0xFE, hexes[3], hexes[4], hexes[5]]
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }
        return "fe80::" + groups.joined(separator: ":")
    }
}
