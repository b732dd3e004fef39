import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// A QMP failure: no connection, no answer in time, or an error answer from QEMU.
public struct QMPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case connect, timeout, closed, protocolError, command }
    public var kind: Kind
    public var socket: String
    public var message: String
    /// QEMU's error class (`GenericError`, `CommandNotFound`, …) for `.command`.
    public var errorClass: String?
    public var description: String { "QMP \(socket): \(message)" }
}

/// One blocking QMP conversation over a unix socket: the greeting, `qmp_capabilities`, then
/// commands, each answer read within the deadline; asynchronous events are skipped. Used inside
/// one `Blocking.run` closure, never shared.
final class QMPSession {
    static let maxLineBytes = 1 << 20
    let socketPath: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let timeout: Duration

    init(socketPath: String, timeout: Duration) throws(QMPError) {
        self.socketPath = socketPath
        self.timeout = timeout
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw QMPError(kind: .connect, socket: socketPath, message: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw QMPError(kind: .connect, socket: socketPath, message: "socket path too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw QMPError(kind: .connect, socket: socketPath, message: "connect: \(String(cString: strerror(e)))")
        }
        let deadline = ContinuousClock.now + timeout
        let greeting = try readMessage(deadline: deadline)
        guard greeting["QMP"] != nil else { throw error(.protocolError, "no QMP greeting") }
        _ = try execute("qmp_capabilities")
    }

    deinit { close(fd) }

    /// Runs `command`; its `return` value. `passing` sends a descriptor with the command
    /// (SCM_RIGHTS), as `getfd` and `add-fd` expect.
    @discardableResult
    func execute(_ command: String, _ arguments: JSONObject? = nil, passing descriptor: Int32? = nil) throws(QMPError) -> JSONValue {
        var message: JSONObject = ["execute": .string(command)]
        if let arguments { message["arguments"] = .object(arguments) }
        let deadline = ContinuousClock.now + timeout
        try send(JSONValue.object(message).serialized() + [0x0A], descriptor: descriptor)
        while true {
            let reply = try readMessage(deadline: deadline)
            if reply["event"] != nil { continue }
            if let r = reply["return"] { return r }
            if let e = reply["error"] {
                throw QMPError(kind: .command, socket: socketPath, message: "\(command): \(e["desc"]?.stringValue ?? "error")",
                               errorClass: e["class"]?.stringValue)
            }
            throw error(.protocolError, "\(command): unexpected reply \(reply.serializedString())")
        }
    }

    private func send(_ bytes: [UInt8], descriptor: Int32?) throws(QMPError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                sendOnce(UnsafeRawBufferPointer(rebasing: buf[sent...]), descriptor: sent == 0 ? descriptor : nil)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw error(.closed, "send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    private func sendOnce(_ buf: UnsafeRawBufferPointer, descriptor: Int32?) -> Int {
        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: buf.baseAddress!), iov_len: buf.count)
        return withUnsafeMutablePointer(to: &iov) { iovp in
            var msg = msghdr()
            msg.msg_iov = iovp
            msg.msg_iovlen = 1
            guard let descriptor else { return sendmsg(fd, &msg, Int32(MSG_NOSIGNAL)) }
            // struct cmsghdr { size_t len; int level; int type; } then the int: CMSG_SPACE(4) = 24 bytes.
            var control = [UInt8](repeating: 0, count: 24)
            return control.withUnsafeMutableBytes { c in
                c.storeBytes(of: 20, toByteOffset: 0, as: Int.self)
                c.storeBytes(of: SOL_SOCKET, toByteOffset: 8, as: Int32.self)
                c.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: 12, as: Int32.self)
                c.storeBytes(of: descriptor, toByteOffset: 16, as: Int32.self)
                msg.msg_control = c.baseAddress
                msg.msg_controllen = c.count
                return sendmsg(fd, &msg, Int32(MSG_NOSIGNAL))
            }
        }
    }

    /// The next complete JSON line.
    private func readMessage(deadline: ContinuousClock.Instant) throws(QMPError) -> JSONValue {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[..<nl]
                defer { buffer.removeSubrange(...nl) }
                do { return try JSONValue.parse(line) } catch {
                    throw self.error(.protocolError, "bad JSON from QEMU: \(error)")
                }
            }
            guard buffer.count < Self.maxLineBytes else { throw error(.protocolError, "reply too long") }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw error(.timeout, "no answer within \(timeout)") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            let n = poll(&p, 1, ms)
            if n < 0 { if errno == EINTR { continue }; throw error(.closed, "poll: \(String(cString: strerror(errno)))") }
            if n == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 { if errno == EINTR { continue }; throw error(.closed, "read: \(String(cString: strerror(errno)))") }
            if got == 0 { throw error(.closed, "QEMU closed the connection") }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    private func error(_ kind: QMPError.Kind, _ message: String) -> QMPError {
        QMPError(kind: kind, socket: socketPath, message: message)
    }
}

/// Async access to one QMP socket: each call is one connection on a thread of its own.
package struct QMPClient: Sendable {
    let socketPath: String
    var timeout: Duration = .seconds(10)

    package init(socketPath: String, timeout: Duration = .seconds(10)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    @discardableResult
    package func execute(_ command: String, _ arguments: JSONObject? = nil) async throws -> JSONValue {
        try await session { try $0.execute(command, arguments) }
    }

    func session<T: Sendable>(_ body: @escaping @Sendable (QMPSession) throws -> T) async throws -> T {
        let path = socketPath, timeout = self.timeout
        return try await Blocking.run { try body(try QMPSession(socketPath: path, timeout: timeout)) }
    }
}
