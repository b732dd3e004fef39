import ComputeNode
import Crypto
import Foundation
import Logging
import NimbusCore
import Synchronization

/// The datapath on Linux: a bridge per network (`brq…`), guests' tap devices in them, DHCP as
/// dnsmasq in `qdhcp-<network>` namespaces, routers as `qrouter-<router>` namespaces with
/// nftables SNAT/DNAT, security groups as nftables rules (`Firewall`). Every program is started
/// from an argument array (`CommandRunner`), never through a shell.
public final class LinuxDatapath: Datapath {
    let runner: any CommandRunner
    /// Files dnsmasq and nft read (world-readable: dnsmasq drops its privileges).
    let runDir: String
    let attachments: [String: PhysicalAttachment]
    /// The namespace that is this host's network stack (its bridges, taps, VXLAN devices and
    /// firewall); nil: the process's own. Several "hosts" on one machine each get one (tests).
    let hostNamespace: String?
    /// This host's VXLAN endpoint address (Neutron's `[vxlan] local_ip`); nil: no tunnels (one host).
    let tunnelIP: String?
    /// The underlay device VXLAN sends through (nil: chosen by route).
    let tunnelDevice: String?
    let logger: Logger
    /// Serves the metadata service inside each DHCP namespace (nil: none).
    let metadata: (any MetadataEndpoints)?
    private let applied = Mutex<[String: String]>([:])
    /// The namespaces and devices this datapath made (kept in `runDir/owned`): cleanup only ever
    /// removes these, never another cloud's or program's objects that look alike.
    private let owned = Mutex<Set<String>?>(nil)

    /// The registry, read from `runDir/owned` the first time (a restarted process must add to
    /// what the previous one recorded, never start a fresh set over it).
    private func loaded(_ set: inout Set<String>?) -> Set<String> {
        if set == nil {
            let text = (try? String(contentsOfFile: runDir + "/owned", encoding: .utf8)) ?? ""
            set = Set(text.splitBytes("\n").map(String.init).filter { !$0.isEmpty })
        }
        return set ?? []
    }
    func own(_ name: String) {
        owned.withLock { set in
            var s = loaded(&set)
            s.insert(name)
            set = s
        }
    }
    func ownedNames() -> Set<String> {
        owned.withLock { set in loaded(&set) }
    }
    func saveOwned() {
        let names = ownedNames().sorted().joined(separator: "\n")
        _ = try? write(names, to: runDir + "/owned")
    }
    static let timeout = Duration.seconds(20)
    /// Names this cloud's host-wide nftables tables apart from another's: the run dir's last part.
    var tableSuffix: String { String((runDir as NSString).lastPathComponent.utf8.suffix(12))! }

    public init(runner: any CommandRunner, runDir: String, attachments: [String: PhysicalAttachment], metadata: (any MetadataEndpoints)? = nil,
                hostNamespace: String? = nil, tunnelIP: String? = nil, tunnelDevice: String? = nil, logger: Logger) {
        self.metadata = metadata
        self.hostNamespace = hostNamespace
        self.tunnelIP = tunnelIP
        self.tunnelDevice = tunnelDevice
        self.runner = runner
        self.runDir = runDir
        self.attachments = attachments
        self.logger = logger
    }

    // MARK: running ip, nft, dnsmasq

    @discardableResult
    func run(_ argv: [String]) async throws -> CommandResult {
        try await runner.run(argv, timeout: Self.timeout).check()
    }

    /// `ip` acting on this host's own stack (its namespace when it has one).
    func ip(_ args: [String]) -> [String] { ["ip"] + (hostNamespace.map { ["-n", $0] } ?? []) + args }

    func tryRun(_ argv: [String]) async -> Bool {
        (try? await runner.run(argv, timeout: Self.timeout))?.status == 0
    }

    struct Link {
        var name: String; var kind: String?; var master: String?; var mtu: Int; var up: Bool; var mac: String?
        /// A VXLAN device's VNI and local address.
        var vxlanID: Int64? = nil
        var vxlanLocal: String? = nil
    }

    func links(namespace: String? = nil) async throws -> [String: Link] {
        var argv = ["ip"]
        if let ns = namespace ?? hostNamespace { argv += ["-n", ns] }
        argv += ["-j", "-d", "link", "show"]
        let out = try await run(argv).stdout
        guard case .array(let items)? = try? JSONValue.parse(out) else { return [:] }
        var result = [String: Link]()
        for i in items {
            guard let name = i["ifname"]?.stringValue else { continue }
            let data = i["linkinfo"]?["info_data"]
            result[name] = Link(name: name, kind: i["linkinfo"]?["info_kind"]?.stringValue, master: i["master"]?.stringValue,
                                mtu: Int(i["mtu"]?.intValue ?? 0), up: (i["flags"]?.arrayValue ?? []).contains("UP"), mac: i["address"]?.stringValue,
                                vxlanID: data?["id"]?.intValue, vxlanLocal: (data?["local"] ?? data?["local6"])?.stringValue)
        }
        return result
    }

    func namespaces() async throws -> Set<String> {
        let out = try await run(["ip", "-j", "netns", "list"]).stdout
        guard case .array(let items)? = try? JSONValue.parse(out) else { return [] }
        return Set(items.compactMap { $0["name"]?.stringValue })
    }

    func addresses(namespace: String, device: String) async throws -> Set<String> {
        let out = try await run(["ip", "-n", namespace, "-j", "addr", "show", "dev", device]).stdout
        guard case .array(let items)? = try? JSONValue.parse(out) else { return [] }
        var set = Set<String>()
        for i in items {
            for a in i["addr_info"]?.arrayValue ?? [] {
                guard let local = a["local"]?.stringValue, let p = a["prefixlen"]?.intValue, a["scope"]?.stringValue != "link" else { continue }
                set.insert("\(local)/\(p)")
            }
        }
        return set
    }

    func ensureNamespace(_ name: String, _ existing: inout Set<String>) async throws {
        if !existing.contains(name) {
            own(name)
            try await run(["ip", "netns", "add", name])
            existing.insert(name)
        }
        try await run(["ip", "-n", name, "link", "set", "lo", "up"])
    }

    func ensureBridge(_ n: NetworkWiring, _ links: inout [String: Link]) async throws {
        if links[n.bridge] == nil {
            own(n.bridge)
            try await run(ip(["link", "add", n.bridge, "type", "bridge", "nf_call_iptables", "1", "nf_call_ip6tables", "1", "stp_state", "0"]))
            links[n.bridge] = Link(name: n.bridge, kind: "bridge", master: nil, mtu: 1500, up: false, mac: nil)
        }
        if links[n.bridge]?.up != true { try await run(ip(["link", "set", n.bridge, "up"])) }
    }

    /// A device in a bridge, with its MTU, up (or down: a port whose `admin_state_up` is false,
    /// as the Linux bridge agent's `ensure_port_admin_state` sets its tap).
    func plug(_ device: String, bridge: String, mtu: Int, up: Bool = true, _ links: [String: Link]) async throws {
        let l = links[device]
        if l?.master != bridge { try await run(ip(["link", "set", device, "master", bridge])) }
        if l?.mtu != mtu { try await run(ip(["link", "set", device, "mtu", String(mtu)])) }
        if l?.up != up { try await run(ip(["link", "set", device, up ? "up" : "down"])) }
    }

    /// A veth pair: `outer` in the host's namespace (to be plugged into a bridge), `inner` in
    /// `namespace` with `mac`, `mtu` and exactly `addresses`.
    func veth(outer: String, inner: String, namespace: String, mac: String?, mtu: Int, addresses: [String], _ links: inout [String: Link]) async throws {
        if links[outer] == nil {
            // The inner name taken while our outer end is missing: the pair of a cloud that ran
            // here before (its data gone, its kernel state left, e.g. `eth0` in `nimbus-public`).
            // Deleting one end deletes that pair; this cloud takes the name over.
            if await tryRun(["ip", "-n", namespace, "link", "show", "dev", inner]) {
                logger.warning("\(inner) in namespace \(namespace) belongs to no device of this cloud; replacing it")
                try await run(["ip", "-n", namespace, "link", "delete", "dev", inner])
            }
            own(outer)
            try await run(ip(["link", "add", outer, "type", "veth", "peer", "name", inner, "netns", namespace]))
            links[outer] = Link(name: outer, kind: "veth", master: nil, mtu: 1500, up: false, mac: nil)
        }
        var inside = ["ip", "-n", namespace, "link", "set", inner, "mtu", String(mtu)]
        if let mac { inside += ["address", mac] }
        try await run(inside + ["up"])
        let have = try await self.addresses(namespace: namespace, device: inner)
        for a in have where !addresses.contains(a) { try await run(["ip", "-n", namespace, "addr", "del", a, "dev", inner]) }
        for a in addresses where !have.contains(a) { try await run(["ip", "-n", namespace, "addr", "add", a, "dev", inner]) }
    }

    /// Writes `text` to `path` (0644) when it differs; true when it changed.
    func write(_ text: String, to path: String) throws -> Bool {
        if let old = try? String(contentsOfFile: path, encoding: .utf8), old == text { return false }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw NimbusError(.internal, "cannot write \(tmp)")
        }
        _ = rename(tmp, path)
        return true
    }

    /// Loads an nft ruleset (in `namespace` when given) unless it is what was loaded last.
    func nft(_ ruleset: String, key: String, namespace: String? = nil) async throws {
        if applied.withLock({ $0[key] }) == ruleset { return }
        let path = runDir + "/nft/\(key).nft"
        _ = try write(ruleset, to: path)
        try await run((namespace.map { ["ip", "netns", "exec", $0] } ?? []) + ["nft", "-f", path])
        applied.withLock { $0[key] = ruleset }
    }

    // MARK: converge

    public func converge(_ t: HostTopology) async throws -> Set<String> {
        var links = try await links()
        var spaces = try await namespaces()
        var wired = Set<String>()
        let networks = Dictionary(t.networks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        for n in t.networks {
            try await ensureBridge(n, &links)
            if let physnet = n.physicalNetwork, let attachment = attachments[physnet] {
                switch attachment {
                case .interface(let device) where n.type == "vlan":
                    // The linuxbridge agent's VLAN: a tagged subinterface of the physical
                    // network's interface in the network's bridge.
                    do {
                        try await vlan(parent: device, network: n, &links)
                    } catch {
                        logger.error("VLAN of network \(n.id) on \(device) not converged: \(error)")
                    }
                case .interface(let device):
                    if links[device] != nil { try await plug(device, bridge: n.bridge, mtu: n.mtu, links) }
                case .namespace(let name, let address):
                    try await ensureNamespace(name, &spaces)
                    let outer = n.outsideDevice
                    try await veth(outer: outer, inner: "eth0", namespace: name, mac: nil, mtu: n.mtu, addresses: [address], &links)
                    try await plug(outer, bridge: n.bridge, mtu: n.mtu, links)
                }
            }
            if let device = n.vxlanDevice, let local = tunnelIP {
                do {
                    try await vxlan(device, network: n, local: local, &links)
                } catch {
                    logger.error("VXLAN of network \(n.id) not converged: \(error)")
                }
            }
        }

        for p in t.ports {
            guard let n = networks[p.networkID] else { continue }
            // The tap is this port's whoever made it (QEMU opens it by name, and may be first):
            // once the port leaves this host the tap goes, so a guest that keeps a released
            // NIC is cut off.
            own(p.device)
            if links[p.device] == nil {
                do {
                    try await run(ip(["tuntap", "add", "dev", p.device, "mode", "tap"]))
                } catch {
                    // QEMU opened it by name since the links were listed (EBUSY): it is there now.
                    guard (try? await run(ip(["link", "show", "dev", p.device]))) != nil else { throw error }
                }
                links[p.device] = Link(name: p.device, kind: "tun", master: nil, mtu: 1500, up: false, mac: nil)
            }
            try await plug(p.device, bridge: n.bridge, mtu: n.mtu, up: p.adminUp, links)
            if p.adminUp { wired.insert(p.id) }  // an administratively down port is DOWN, as in Neutron
        }

        // One broken item (a DHCP server, a router) is logged and skipped: the others, the
        // firewall and the cleanup still converge.
        for d in t.dhcp {
            guard let n = networks[d.networkID] else { continue }
            do {
            try await ensureNamespace(d.namespace, &spaces)
            var addrs = d.addresses.map(\.cidr)
            if d.subnets.contains(where: { $0.version == 4 }) { addrs.append(Metadata.address + "/32") }
            try await veth(outer: d.bridgeDevice, inner: d.device, namespace: d.namespace, mac: d.mac, mtu: d.mtu, addresses: addrs, &links)
            try await plug(d.bridgeDevice, bridge: n.bridge, mtu: n.mtu, links)
            try await dnsmasq(d)
            wired.insert(d.portID)
            } catch {
                logger.error("DHCP of network \(d.networkID) not converged: \(error)")
            }
        }

        for r in t.routers {
            do {
            try await ensureNamespace(r.namespace, &spaces)
            try await run(["ip", "netns", "exec", r.namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            for i in r.interfaces {
                guard let n = networks[i.networkID] else { continue }
                try await veth(outer: i.bridgeDevice, inner: RouterWiring.device("qr-", i.portID), namespace: r.namespace, mac: i.mac, mtu: i.mtu,
                               addresses: i.addresses.map(\.cidr), &links)
                try await plug(i.bridgeDevice, bridge: n.bridge, mtu: n.mtu, up: i.adminUp && r.adminUp, links)
                if i.adminUp { wired.insert(i.portID) }
            }
            if let g = r.gateway, let n = networks[g.networkID] {
                let qg = RouterWiring.device("qg-", g.portID)
                try await veth(outer: g.bridgeDevice, inner: qg, namespace: r.namespace, mac: g.mac, mtu: g.mtu,
                               addresses: g.addresses.map(\.cidr) + r.floatingAddresses.map { $0 + "/32" }, &links)
                try await plug(g.bridgeDevice, bridge: n.bridge, mtu: n.mtu, up: g.adminUp && r.adminUp, links)
                if let via = r.defaultRoute {
                    try await run(["ip", "-n", r.namespace, "route", "replace", "default", "via", via, "dev", qg])
                }
                if g.adminUp { wired.insert(g.portID) }
            }
            for route in r.routes {
                _ = await tryRun(["ip", "-n", r.namespace, "route", "replace", route.destination, "via", route.nexthop])
            }
            try await nft(Self.natRuleset(r), key: "router-" + r.id, namespace: r.namespace)
            try await advertise(r)
            } catch {
                logger.error("router \(r.id) not converged: \(error)")
            }
        }

        // Devices that left go before their filters do (a tap without chains is unfiltered).
        try await cleanup(t, links: links, spaces: spaces)
        try await nft(Firewall.ruleset(t, suffix: tableSuffix), key: "firewall", namespace: hostNamespace)
        await metadata?.serve(namespaces: Dictionary(t.dhcp.filter { $0.subnets.contains { $0.version == 4 } }.map { ($0.namespace, $0.networkID) },
                                                     uniquingKeysWith: { a, _ in a }))
        return wired
    }

    /// The router's NAT: port forwardings and floating IPs inward, floating IPs outward, then
    /// SNAT of everything else leaving through the gateway to the gateway's address.
    static func natRuleset(_ r: RouterWiring) -> String {
        var s = "table ip nimbus-nat\ndelete table ip nimbus-nat\ntable ip nimbus-nat {\n"
        let forwardings = r.portForwardings.compactMap(forwardingRule)
        s += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n"
        for f in forwardings { s += "    \(f)\n" }
        for f in r.floatingIPs { s += "    ip daddr \(f.floating) dnat to \(f.fixed)\n" }
        s += "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n"
        for f in forwardings { s += "    \(f)\n" }
        for f in r.floatingIPs { s += "    ip daddr \(f.floating) dnat to \(f.fixed)\n" }
        s += "  }\n  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n"
        if let g = r.gateway {
            let qg = RouterWiring.device("qg-", g.portID)
            for f in r.floatingIPs { s += "    oifname \"\(qg)\" ip saddr \(f.fixed) snat to \(f.floating)\n" }
            if r.snat, let gw = g.addresses.first(where: { $0.version == 4 }) {
                s += "    oifname \"\(qg)\" ip saddr != \(gw.address) snat to \(gw.address)\n"
            }
        }
        s += "  }\n}\n"
        return s + dhcpv6Guard(r)
    }

    /// One port forwarding's DNAT (Neutron's L3 agent writes the iptables equivalent): a port
    /// to a port, a range to one port, or a range to a range of the same size port by port
    /// (a map, as iptables' `--to-destination ip:a-b/base`). Nil for values nft should never
    /// see (the service has validated them; this is the datapath's own guard).
    static func forwardingRule(_ p: PortForwardingRule) -> String? {
        let ports = 1...65535
        guard ["tcp", "udp", "sctp", "dccp"].contains(p.proto), let floating = canonical(p.floating), let target = canonical(p.internalAddress),
              !floating.containsByte(":"), !target.containsByte(":"),
              ports.contains(p.externalPorts.lowerBound), ports.contains(p.externalPorts.upperBound),
              ports.contains(p.internalPorts.lowerBound), ports.contains(p.internalPorts.upperBound) else { return nil }
        let e = p.externalPorts, i = p.internalPorts
        let match = "ip daddr \(floating) \(p.proto) dport " + (e.count == 1 ? "\(e.lowerBound)" : "\(e.lowerBound)-\(e.upperBound)")
        if i.count == 1 { return match + " dnat to \(target):\(i.lowerBound)" }
        guard i.count == e.count else { return nil }
        if i.lowerBound == e.lowerBound { return match + " dnat to \(target)" }
        guard e.count <= PortForwardingRule.maxShiftedPorts else { return nil }
        let pairs = zip(e, i).map { "\($0) : \($1)" }.joined(separator: ", ")
        return match + " dnat to \(target) : \(p.proto) dport map { \(pairs) }"
    }

    // MARK: VXLAN

    /// True for a literal IPv4 or IPv6 address (nothing else reaches `bridge fdb`).
    public static func isAddress(_ text: String) -> Bool { canonical(text) != nil }

    static func isVXLAN(_ name: String) -> Bool {
        guard let rest = name.droppingBytePrefix("vxlan-") else { return false }
        return (1...8).contains(rest.utf8.count) && rest.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    /// The network's VXLAN device in its bridge, with one all-zero forwarding entry per peer:
    /// broadcast and unknown unicast go to every other host with ports on the network (head-end
    /// replication, no multicast in the underlay), and the device learns where each MAC lives.
    func vxlan(_ device: String, network n: NetworkWiring, local: String, _ links: inout [String: Link]) async throws {
        guard let vni = n.segmentationID, let local = Self.canonical(local) else { return }
        if let l = links[device] {
            // Another program's or cloud's device of that name is never adopted: joining it to
            // this bridge would join two clouds' networks.
            guard ownedNames().contains(device), l.kind == "vxlan" else {
                logger.error("\(device) exists and is not this datapath's: network \(n.id) gets no tunnel on this host")
                return
            }
            if l.vxlanID != vni || l.vxlanLocal.flatMap(Self.canonical) != local {   // the endpoint changed
                try await run(ip(["link", "del", device]))
                links[device] = nil
            }
        }
        if links[device] == nil {
            own(device)
            var argv = ["link", "add", device, "type", "vxlan", "id", String(vni), "local", local, "dstport", "4789"]
            if let dev = tunnelDevice { argv += ["dev", dev] }
            try await run(ip(argv))
            links[device] = Link(name: device, kind: "vxlan", master: nil, mtu: 1500, up: false, mac: nil, vxlanID: vni, vxlanLocal: local)
        }
        try await plug(device, bridge: n.bridge, mtu: n.mtu, links)
        let zero = "00:00:00:00:00:00"
        var bridge = ["bridge"]
        if let ns = hostNamespace { bridge += ["-n", ns] }
        let out = try await run(bridge + ["-j", "fdb", "show", "dev", device]).stdout
        var have = Set<String>()
        if case .array(let items)? = try? JSONValue.parse(out) {
            for i in items where i["mac"]?.stringValue == zero { if let d = i["dst"]?.stringValue.flatMap(Self.canonical) { have.insert(d) } }
        }
        // Peers of the local address's family, canonical (the kernel lists them so).
        let v6 = local.containsByte(":")
        let want = Set(n.peers.compactMap(Self.canonical).filter { $0 != local && $0.containsByte(":") == v6 })
        for p in have.subtracting(want) { _ = await tryRun(bridge + ["fdb", "del", zero, "dev", device, "dst", p]) }
        // One refused entry must not keep the other hosts out.
        for p in want.subtracting(have).sorted() where await !tryRun(bridge + ["fdb", "append", zero, "dev", device, "dst", p]) {
            logger.error("\(device): no flood entry to \(p)")
        }
    }

    /// A VLAN subinterface's name: `<interface>.<vlan>` as the linuxbridge agent names it, or,
    /// when that passes Linux's 15 bytes, `vl` + 6 hex digits of the interface name's SHA-256 +
    /// `.<vlan>`.
    public static func vlanDevice(parent: String, id: Int64) -> String {
        let plain = "\(parent).\(id)"
        if plain.utf8.count <= 15 { return plain }
        return "vl" + String(Hex.encode(SHA256.hash(data: Array(parent.utf8))).prefix(6)) + ".\(id)"
    }

    /// A name `vlanDevice` makes: something, a dot, a VLAN id (1–4094).
    static func isVLAN(_ name: String) -> Bool {
        guard let dot = name.utf8.lastIndex(of: UInt8(ascii: ".")), dot != name.utf8.startIndex else { return false }
        let digits = name.utf8[name.utf8.index(after: dot)...]
        guard (1...4).contains(digits.count), digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), let id = Int(String(decoding: digits, as: UTF8.self)) else {
            return false
        }
        return (1...4094).contains(id)
    }

    /// The network's VLAN subinterface of `parent` in its bridge (made when missing, never
    /// adopted from another program).
    func vlan(parent: String, network n: NetworkWiring, _ links: inout [String: Link]) async throws {
        guard let id = n.segmentationID, (1...4094).contains(id) else { return }
        guard links[parent] != nil else {
            logger.error("network \(n.id): the physical interface \(parent) of \(n.physicalNetwork ?? "") is missing on this host")
            return
        }
        let device = Self.vlanDevice(parent: parent, id: id)
        if let l = links[device] {
            guard ownedNames().contains(device), l.kind == "vlan" else {
                logger.error("\(device) exists and is not this datapath's: network \(n.id) gets no VLAN on this host")
                return
            }
        } else {
            own(device)
            try await run(ip(["link", "add", "link", parent, "name", device, "type", "vlan", "id", String(id)]))
            links[device] = Link(name: device, kind: "vlan", master: nil, mtu: 1500, up: false, mac: nil)
        }
        try await plug(device, bridge: n.bridge, mtu: n.mtu, links)
    }

    /// The VLAN subinterfaces this host's topology wants.
    func wantedVLANs(_ t: HostTopology) -> Set<String> {
        Set(t.networks.compactMap { n -> String? in
            guard n.type == "vlan", let id = n.segmentationID, let physnet = n.physicalNetwork,
                  case .interface(let parent)? = attachments[physnet] else { return nil }
            return Self.vlanDevice(parent: parent, id: id)
        })
    }

    /// The canonical text of an IPv4 or IPv6 address (`FD00:0::3` → `fd00::3`); nil for anything else.
    public static func canonical(_ text: String) -> String? {
        guard text.utf8.count <= 45 else { return nil }
        var buf = [UInt8](repeating: 0, count: 16)
        var out = [CChar](repeating: 0, count: 64)
        for family in [AF_INET, AF_INET6] where inet_pton(family, text, &buf) == 1 {
            guard inet_ntop(family, buf, &out, socklen_t(out.count)) != nil else { return nil }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return nil
    }

    // MARK: router advertisements

    func raDir(_ router: String) -> String { runDir + "/ra/" + router }

    func raPID(_ router: String) -> Int32? {
        guard let text = try? String(contentsOfFile: raDir(router) + "/pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let cmd = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")),
              String(decoding: cmd, as: UTF8.self).contains(raDir(router) + "/pid") else { return nil }
        return pid
    }

    func advertise(_ r: RouterWiring) async throws {
        let dir = raDir(r.id)
        let argv = Self.raArguments(r, dir: dir)
        let changed = try write((argv ?? []).joined(separator: "\n"), to: dir + "/args")
        if let pid = raPID(r.id) {
            if !changed && argv != nil { return }
            kill(pid, SIGTERM)
            for _ in 0..<50 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let argv else { return }
        try await run(["ip", "netns", "exec", r.namespace, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        try await run(argv)
    }

    // MARK: dnsmasq

    func dhcpDir(_ d: DHCPService) -> String { runDir + "/dhcp/" + d.networkID }

    static func netmask(_ prefix: Int) -> String {
        let m: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix)
        return "\(m >> 24).\((m >> 16) & 255).\((m >> 8) & 255).\(m & 255)"
    }

    /// dnsmasq's files for one network: static leases from the ports, options per subnet
    /// (router, DNS, classless routes with the metadata route, MTU).
    static func dhcpFiles(_ d: DHCPService) -> (hosts: String, opts: String, ranges: [String], forced: [String]) {
        var hosts = "", opts = "", ranges = [String](), forced = [String]()
        let v4 = d.subnets.filter { $0.version == 4 }
        let metadataVia = d.addresses.first { $0.version == 4 }?.address
        for (n, s) in v4.enumerated() {
            let parts = s.cidr.splitBytes("/")
            guard parts.count == 2, let prefix = Int(parts[1]) else { continue }
            let tag = "s\(n)"
            ranges.append("set:\(tag),\(parts[0]),static,\(netmask(prefix)),86400s")
            var routes = [String]()
            if let via = metadataVia { routes.append("169.254.169.254/32,\(via)") }
            for r in s.hostRoutes { routes.append("\(r.destination),\(r.nexthop)") }
            if let gw = s.gateway {
                opts += "tag:\(tag),option:router,\(gw)\n"
                routes.append("0.0.0.0/0,\(gw)")
            } else {
                opts += "tag:\(tag),option:router\n"
            }
            // Sent whether or not the client asks (busybox's udhcpc does not ask for option 121).
            forced.append("tag:\(tag),option:classless-static-route,\(routes.joined(separator: ","))")
            if !s.dnsServers.isEmpty { opts += "tag:\(tag),option:dns-server,\(s.dnsServers.joined(separator: ","))\n" }
        }
        var tagged = Set<String>()
        for h in d.hosts where v4.contains(where: { $0.id == h.subnetID }) {
            let options = h.options.filter { o in
                Self.isOptionName(o.name) && o.value.utf8.count <= 255 && !o.value.utf8.contains { $0 < 0x20 || $0 == 0x7F }
            }
            let idIsPlain = h.portID.utf8.count == 36 && h.portID.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || $0 == 45 }
            if options.isEmpty || !idIsPlain {
                hosts += "\(h.mac),\(h.hostname),\(h.address)\n"
                continue
            }
            // The port's own options, as Neutron's dnsmasq driver writes them (`set:port-<id>`).
            let tag = "port-" + h.portID
            hosts += "\(h.mac),\(h.hostname),\(h.address),set:\(tag)\n"
            guard tagged.insert(tag).inserted else { continue }
            for o in options {
                let option = o.name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) ? o.name : "option:" + o.name
                opts += "tag:\(tag),\(option),\(o.value)\n"
            }
        }
        let v6 = dhcpv6Files(d)
        return (hosts + v6.hosts, opts + v6.opts, ranges + v6.ranges, forced)
    }

    /// An option name dnsmasq reads as one (`tftp-server`, `bootfile-name`, `150`); others are left out.
    static func isOptionName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
    }

    func dnsmasqPID(_ d: DHCPService) -> Int32? {
        guard let text = try? String(contentsOfFile: dhcpDir(d) + "/pid", encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        // Only a dnsmasq of this network (the pid may have been reused).
        guard let cmd = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")),
              String(decoding: cmd, as: UTF8.self).contains(dhcpDir(d) + "/pid") else { return nil }
        return pid
    }

    func dnsmasq(_ d: DHCPService) async throws {
        let dir = dhcpDir(d)
        let (hosts, opts, ranges, forced) = Self.dhcpFiles(d)
        // A host entry that goes (a deleted port) may leave a lease in dnsmasq's memory that
        // keeps its address from the next port given it ("not using configured address … because
        // it is leased to …"): dnsmasq is restarted then (no lease file: the leases go with it),
        // and only reloaded (SIGHUP) when entries are only added.
        let before = Set(((try? String(contentsOfFile: dir + "/host", encoding: .utf8)) ?? "").splitBytes("\n").map(String.init))
        let entryGone = !before.subtracting(hosts.splitBytes("\n").map(String.init)).isEmpty
        let hostsChanged = try write(hosts, to: dir + "/host")
        let optsChanged = try write(opts, to: dir + "/opts")
        var argv = ["ip", "netns", "exec", d.namespace, "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--port=0",
                    "--pid-file=\(dir)/pid", "--dhcp-hostsfile=\(dir)/host", "--dhcp-optsfile=\(dir)/opts", "--leasefile-ro",
                    "--dhcp-authoritative", "--interface=\(d.device)", "--bind-interfaces", "--except-interface=lo",
                    "--dhcp-option-force=option:mtu,\(d.mtu)", "--log-facility=\(dir)/log", "--dhcp-lease-max=16777216", "--quiet-dhcp"]
        argv += ranges.map { "--dhcp-range=" + $0 } + forced.map { "--dhcp-option-force=" + $0 }
        let argsChanged = try write(argv.joined(separator: "\n"), to: dir + "/args")
        if let pid = dnsmasqPID(d) {
            if !argsChanged && !(hostsChanged && entryGone) {
                if hostsChanged || optsChanged { kill(pid, SIGHUP) }
                return
            }
            kill(pid, SIGTERM)
            for _ in 0..<50 where kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        if ranges.isEmpty { return }
        // dnsmasq daemonizes: it outlives Nimbus, so DHCP keeps working across restarts.
        try await run(argv)
    }

    // MARK: cleanup

    static func isOurs(_ name: String, prefix: String) -> Bool {
        guard name.hasBytePrefix(prefix) else { return false }
        let rest = name.utf8.dropFirst(prefix.utf8.count)
        return rest.count == 11 && rest.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || $0 == 45 }
    }

    func cleanup(_ t: HostTopology, links: [String: Link], spaces: Set<String>) async throws {
        _ = ownedNames()
        saveOwned()
        let mine = ownedNames()
        var removed = Set<String>()
        defer {
            if !removed.isEmpty {
                owned.withLock { $0?.subtract(removed) }
                saveOwned()
            }
        }
        let bridges = Set(t.networks.map(\.bridge))
        var devices = Set(t.ports.map(\.device) + t.dhcp.map(\.bridgeDevice))
        for r in t.routers { devices.formUnion(r.interfaces.map(\.bridgeDevice) + (r.gateway.map { [$0.bridgeDevice] } ?? [])) }
        devices.formUnion(t.networks.map(\.outsideDevice))
        for name in mine where (Self.isOurs(name, prefix: "tap") || Self.isOurs(name, prefix: "ext")) && !devices.contains(name) {
            if links[name] != nil { _ = await tryRun(ip(["link", "del", name])) }
            removed.insert(name)
        }
        let vlans = wantedVLANs(t)
        for name in mine where Self.isVLAN(name) && !vlans.contains(name) {
            if links[name]?.kind == "vlan" { _ = await tryRun(ip(["link", "del", name])) }
            removed.insert(name)
        }
        let tunnels = Set(t.networks.compactMap { tunnelIP == nil ? nil : $0.vxlanDevice })
        for name in mine where Self.isVXLAN(name) && !tunnels.contains(name) {
            if links[name]?.kind == "vxlan" { _ = await tryRun(ip(["link", "del", name])) }
            removed.insert(name)
        }
        let wantedSpaces = Set(t.dhcp.map(\.namespace) + t.routers.map(\.namespace))
        for ns in mine where (ns.hasBytePrefix("qdhcp-") || ns.hasBytePrefix("qrouter-")) && !wantedSpaces.contains(ns) {
            removed.insert(ns)
            guard spaces.contains(ns) else { continue }
            if ns.hasBytePrefix("qdhcp-") {
                let net = String(ns.droppingBytePrefix("qdhcp-") ?? "")
                let stub = DHCPService(networkID: net, portID: "", mac: "", addresses: [], mtu: 0, subnets: [], hosts: [])
                if let pid = dnsmasqPID(stub) { kill(pid, SIGTERM) }
                try? FileManager.default.removeItem(atPath: dhcpDir(stub))
            } else {
                let router = String(ns.droppingBytePrefix("qrouter-") ?? "")
                applied.withLock { $0["router-" + router] = nil }
                if let pid = raPID(router) { kill(pid, SIGTERM) }
                try? FileManager.default.removeItem(atPath: raDir(router))
            }
            _ = await tryRun(["ip", "netns", "del", ns])
        }
        for name in mine where Self.isOurs(name, prefix: "brq") && !bridges.contains(name) {
            if links[name]?.kind == "bridge" { _ = await tryRun(ip(["link", "del", name])) }
            removed.insert(name)
        }
    }

    public func teardown() async throws {
        _ = try await converge(HostTopology())
        let (b, i) = Firewall.tables(tableSuffix)
        let inHost = hostNamespace.map { ["ip", "netns", "exec", $0] } ?? []
        _ = await tryRun(inHost + ["nft", "delete", "table", "bridge", b])
        _ = await tryRun(inHost + ["nft", "delete", "table", "inet", i])
        for case .namespace(let name, _) in attachments.values { _ = await tryRun(["ip", "netns", "del", name]) }
    }
}

/// The metadata service's address, as Nova and cloud-init know it.
public enum Metadata {
    public static let address = "169.254.169.254"
}
