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
