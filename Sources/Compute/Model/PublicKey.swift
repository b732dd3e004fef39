import Crypto
import Foundation
import NimbusCore
import _CryptoExtras

/// Keypair material as Nova checks it (`nova/crypto.py`): OpenSSH public keys parsed field by
/// field (the fingerprint is the MD5 of the key blob, colon-separated), X.509 certificates in PEM
/// (SHA-1 of the DER), and new RSA keypairs generated for clients before 2.92.
public enum PublicKey {
    public struct Invalid: Error {}

    /// `aa:bb:…` of the MD5 of an OpenSSH public key's blob, after checking the blob is a key of
    /// the type it names.
    public static func sshFingerprint(_ text: String) throws(Invalid) -> String {
        let fields = text.trimmingCharacters(in: .whitespacesAndNewlines).splitBytes(" ")
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else { throw Invalid() }
        var r = SSHReader(Array(blob))
        guard let type = r.string().flatMap({ String(validating: $0, as: UTF8.self) }), type.sameBytes(as: fields[0]) else { throw Invalid() }
        switch type {
        case "ssh-rsa":
            guard let e = r.string(), let n = r.string(), !e.isEmpty, n.count >= 64 else { throw Invalid() }
        case "ssh-ed25519":
            guard r.string()?.count == 32 else { throw Invalid() }
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            guard let curve = r.string(), "ecdsa-sha2-" + String(decoding: curve, as: UTF8.self) == type,
                  let point = r.string(), point.first == 4 else { throw Invalid() }
        case "ssh-dss":
            for _ in 0..<4 { guard r.string() != nil else { throw Invalid() } }
        default:
            throw Invalid()
        }
        guard r.atEnd else { throw Invalid() }
        return colonHex(Array(Insecure.MD5.hash(data: blob)))
    }

    /// The SHA-1 fingerprint of a PEM certificate's DER, after checking the DER is one
    /// `SEQUENCE` holding the certificate's three parts.
    public static func x509Fingerprint(_ pem: String) throws(Invalid) -> String {
        let lines = pem.splitBytes("\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let begin = lines.firstIndex(of: "-----BEGIN CERTIFICATE-----"), let end = lines.firstIndex(of: "-----END CERTIFICATE-----"), begin < end,
              let der = Data(base64Encoded: lines[(begin + 1)..<end].joined()) else { throw Invalid() }
        var r = DERReader(Array(der))
        guard let outer = r.element(tag: 0x30), r.atEnd else { throw Invalid() }
        var inner = DERReader(outer)
        guard inner.element(tag: 0x30) != nil, inner.element(tag: 0x30) != nil, inner.element(tag: 0x03) != nil, inner.atEnd else { throw Invalid() }
        return colonHex(Array(Insecure.SHA1.hash(data: der)))
    }

    /// A new 2048-bit RSA keypair: the private key in PEM and the OpenSSH public key line.
    public static func generateRSA(comment: String) throws -> (privateKey: String, publicKey: String) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        var spki = DERReader(Array(key.publicKey.derRepresentation))
        // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING { RSAPublicKey } }
        guard let info = spki.element(tag: 0x30) else { throw Invalid() }
        var inner = DERReader(info)
        guard inner.element(tag: 0x30) != nil, let bits = inner.element(tag: 0x03), bits.first == 0 else { throw Invalid() }
        var rsa = DERReader(Array(bits.dropFirst()))
        guard let seq = rsa.element(tag: 0x30) else { throw Invalid() }
        var numbers = DERReader(seq)
        guard let n = numbers.element(tag: 0x02), let e = numbers.element(tag: 0x02) else { throw Invalid() }
        var blob = [UInt8]()
        for field in [Array("ssh-rsa".utf8), e, n] {
            blob += withUnsafeBytes(of: UInt32(field.count).bigEndian, Array.init)
            blob += field
        }
        return (key.pemRepresentation, "ssh-rsa \(Data(blob).base64EncodedString()) \(comment)")
    }

    /// A new x509 keypair as Nova's `crypto.generate_x509_cert` makes one: a 2048-bit RSA key and
    /// a self-signed certificate for it (sha256WithRSAEncryption, ten years), both in PEM.
    public static func generateX509(commonName: String, now: Date = Date()) throws -> (privateKey: String, certificate: String) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
            var length: [UInt8]
            if content.count < 0x80 {
                length = [UInt8(content.count)]
            } else {
                var n = content.count
                var bytes = [UInt8]()
                while n > 0 { bytes.insert(UInt8(n & 0xFF), at: 0); n >>= 8 }
                length = [0x80 | UInt8(bytes.count)] + bytes
            }
            return [tag] + length + content
        }
        func utcTime(_ d: Date) -> [UInt8] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyMMddHHmmss'Z'"
            return tlv(0x17, Array(f.string(from: d).utf8))
        }
        let sha256WithRSA = tlv(0x30, tlv(0x06, [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]) + [0x05, 0x00])
        func attribute(_ oid: [UInt8], _ value: String) -> [UInt8] {
            tlv(0x31, tlv(0x30, tlv(0x06, oid) + tlv(0x0C, Array(value.utf8))))
        }
        let name = tlv(0x30, attribute([0x55, 0x04, 0x06], "US") + attribute([0x55, 0x04, 0x0A], "OpenStack")
                       + attribute([0x55, 0x04, 0x0B], "NovaDev") + attribute([0x55, 0x04, 0x03], commonName))
        var serial = (0..<16).map { _ in UInt8.random(in: 0...255) }
        serial[0] &= 0x7F
        serial[0] |= 0x01
        let tbs = tlv(0x30, tlv(0xA0, tlv(0x02, [0x02])) + tlv(0x02, serial) + sha256WithRSA + name
                      + tlv(0x30, utcTime(now) + utcTime(now.addingTimeInterval(10 * 365 * 86_400))) + name
                      + Array(key.publicKey.derRepresentation))
        let signature = try key.signature(for: Data(tbs), padding: .insecurePKCS1v1_5)
        let der = tlv(0x30, tbs + sha256WithRSA + tlv(0x03, [0x00] + Array(signature.rawRepresentation)))
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return (key.pemRepresentation, "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n")
    }

    static func colonHex(_ bytes: [UInt8]) -> String {
        bytes.map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: ":")
    }

    /// The SSH wire format's length-prefixed strings.
    struct SSHReader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { offset == bytes.count }
        mutating func string() -> [UInt8]? {
            guard bytes.count - offset >= 4 else { return nil }
            let n = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard n <= bytes.count - offset else { return nil }
            defer { offset += n }
            return Array(bytes[offset..<(offset + n)])
        }
    }

    /// Definite-length DER elements, enough to walk a certificate's and a key's outer structure.
    struct DERReader {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { offset == bytes.count }
        mutating func element(tag: UInt8) -> [UInt8]? {
            guard offset + 2 <= bytes.count, bytes[offset] == tag else { return nil }
            var length = Int(bytes[offset + 1])
            var start = offset + 2
            if length & 0x80 != 0 {
                let count = length & 0x7F
                guard count >= 1, count <= 4, start + count <= bytes.count else { return nil }
                length = bytes[start..<(start + count)].reduce(0) { $0 << 8 | Int($1) }
                start += count
            }
            guard length <= bytes.count - start else { return nil }
            offset = start + length
            return Array(bytes[start..<(start + length)])
        }
    }
}
