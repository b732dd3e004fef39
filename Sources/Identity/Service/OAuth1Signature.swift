import Crypto
import Foundation
import NimbusCore

/// RFC 5849 request signing as oauthlib checks it for Keystone: the Authorization header parsed,
/// the mandatory parameters and their formats checked, the signature base string built, and
/// HMAC signatures compared in constant time. Pure: no storage, no clock of its own.
struct OAuth1Request: Sendable {
    /// The `oauth_*` parameters of the Authorization header (realm dropped), percent-decoded.
    var oauth: [Name: String]
    /// Every (name, value) pair signed: header parameters but the signature, plus the query's.
    var signed: [(String, String)]

    var consumerKey: String? { oauth["oauth_consumer_key"] }
    var token: String? { oauth["oauth_token"] }
    var verifier: String? { oauth["oauth_verifier"] }
    var nonce: String? { oauth["oauth_nonce"] }
    var timestamp: String? { oauth["oauth_timestamp"] }

    /// Refused before any parameter is read: a header this long is not a client's.
    static let maxHeaderBytes = 8192

    /// Parses `Authorization: OAuth k="v", ...`; nil when there is no OAuth header.
    static func parse(authorization: String?, query: [(String, String)]) throws -> OAuth1Request? {
        guard let header = authorization, header.utf8.count <= maxHeaderBytes else {
            if authorization != nil { throw NimbusError.badRequest("The Authorization header is too long.") }
            return nil
        }
        let bytes = Array(header.utf8)
        guard bytes.count >= 6, Array(bytes[0..<6]).map({ $0 | 0x20 }) == Array("oauth ".utf8) else { return nil }
        var oauth = [Name: String]()
        var signed = query
        for item in String(decoding: bytes[6...], as: UTF8.self).splitBytes(",") {
            let trimmed = Self.trimmed(item)
            if trimmed.isEmpty { continue }
            guard let (k, raw) = trimmed.splitOnceBytes("=") else { throw invalid("Malformed authorization header.") }
            var v = String(raw)
            if v.hasBytePrefix("\""), v.hasByteSuffix("\""), v.utf8.count >= 2 { v = String(decoding: Array(v.utf8).dropFirst().dropLast(), as: UTF8.self) }
            guard let key = PercentEncoding.decode(k), let value = PercentEncoding.decode(v) else {
                throw invalid("Malformed authorization header.")
            }
            if key.sameBytes(as: "realm") { continue }
            guard key.hasBytePrefix("oauth_") else { continue }
            if oauth[Name(key)] != nil { throw invalid("Duplicate OAuth1 entries.") }
            oauth[Name(key)] = value
            if !key.sameBytes(as: "oauth_signature") { signed.append((key, value)) }
        }
        return OAuth1Request(oauth: oauth, signed: signed)
    }

    /// oauthlib's InvalidRequestError, as Keystone reports it (`validate_oauth_params`): 400.
    static func invalid(_ description: String) -> NimbusError {
        .badRequest("Validation failed with errors: invalid_request, detail message is: \(description).")
    }

    /// oauthlib's timestamp window, in seconds.
    static let timestampWindow: Double = 600

    /// oauthlib's `_check_mandatory_parameters` with Keystone's validator (32 lower-hex keys and
    /// tokens, lower-hex nonces), the timestamp within 600 s of `now`.
    func checkMandatory(now: Date, needsToken: Bool) throws {
        for key in ["oauth_signature", "oauth_consumer_key", "oauth_nonce", "oauth_timestamp", "oauth_signature_method"] {
            guard let v = oauth[Name(key)], !v.isEmpty else { throw Self.invalid("Missing mandatory OAuth parameters") }
        }
        guard let method = oauth["oauth_signature_method"], Self.hashes[Name(method)] != nil else {
            throw Self.invalid("Invalid signature, \(oauth["oauth_signature_method"] ?? "") not in ['HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512']")
        }
        if let version = oauth["oauth_version"], !version.sameBytes(as: "1.0") { throw Self.invalid("Invalid OAuth version") }
        let ts = timestamp ?? ""
        guard ts.utf8.count == 10 else { throw Self.invalid("Invalid timestamp size") }
        guard let seconds = Int(ts), ts.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw Self.invalid("Timestamp must be an integer") }
        guard abs(Double(seconds) - now.timeIntervalSince1970) <= Self.timestampWindow else {
            throw Self.invalid("Timestamp given is invalid, differ from allowed by over 600 seconds")
        }
        guard Self.isKey(consumerKey ?? "") else { throw Self.invalid("Invalid client key format") }
        guard let n = nonce, n.utf8.count <= 64, n.utf8.allSatisfy(Self.isLowerHex) else { throw Self.invalid("Invalid nonce format") }
        if needsToken {
            guard let t = token, !t.isEmpty else { throw Self.invalid("Missing resource owner") }
            guard Self.isKey(t) else { throw Self.invalid("Invalid resource owner key format") }
        }
    }

    /// Spaces and tabs off both ends, by bytes.
    static func trimmed(_ s: Substring) -> String {
        let b = Array(s.utf8)
        var lo = 0, hi = b.count
        while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
        while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
        return String(decoding: b[lo..<hi], as: UTF8.self)
    }

    static func isLowerHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }
    static func isKey(_ s: String) -> Bool { s.utf8.count == 32 && s.utf8.allSatisfy(isLowerHex) }

    enum Hash { case sha1, sha256, sha512 }
    static let hashes: [Name: Hash] = ["HMAC-SHA1": .sha1, "HMAC-SHA256": .sha256, "HMAC-SHA512": .sha512]

    /// RFC 5849 3.6: unreserved bytes as they are, every other byte `%XX` (upper case).
    static func escape(_ s: String) -> String {
        var out = [UInt8]()
        for b in s.utf8 {
            if (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E {
                out.append(b)
            } else {
                out.append(contentsOf: Array(String(format: "%%%02X", b).utf8))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 5849 3.4.1: `METHOD&escape(base URI)&escape(sorted, escaped parameters)`.
    func baseString(method: String, uri: String) -> String {
        let pairs = signed.map { (Self.escape($0.0), Self.escape($0.1)) }
            .sorted { $0.0.bytesPrecede($1.0) || ($0.0.sameBytes(as: $1.0) && $0.1.bytesPrecede($1.1)) }
        let params = pairs.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
        return method + "&" + Self.escape(uri) + "&" + Self.escape(params)
    }

    /// True when the signature is one of `uris`' (the URI the client may have signed), keyed by the
    /// consumer's and token's secrets.
    func verify(method: String, uris: [String], consumerSecret: String, tokenSecret: String) -> Bool {
        guard let given = oauth["oauth_signature"], let hash = Self.hashes[Name(oauth["oauth_signature_method"] ?? "")],
              let givenBytes = Data(base64Encoded: given) else { return false }
        let key = SymmetricKey(data: Array((Self.escape(consumerSecret) + "&" + Self.escape(tokenSecret)).utf8))
        var matched = false
        for uri in uris {
            let text = Array(baseString(method: method, uri: uri).utf8)
            let mac: [UInt8] = switch hash {
            case .sha1: Array(HMAC<Insecure.SHA1>.authenticationCode(for: text, using: key))
            case .sha256: Array(HMAC<SHA256>.authenticationCode(for: text, using: key))
            case .sha512: Array(HMAC<SHA512>.authenticationCode(for: text, using: key))
            }
            if ConstantTime.equal(mac, Array(givenBytes)) { matched = true }
        }
        return matched
    }

    /// RFC 5849 3.4.1.2: lower-case scheme and host, no default port, the path as sent.
    static func baseURI(scheme: String, host: String, path: String) -> String {
        let s = scheme.lowercased(), h = host.lowercased()
        var authority = h
        if (s == "http" && h.hasByteSuffix(":80")) || (s == "https" && h.hasByteSuffix(":443")) {
            authority = String(decoding: h.utf8.prefix(h.utf8.count - (s == "http" ? 3 : 4)), as: UTF8.self)
        }
        return s + "://" + authority + (path.isEmpty ? "/" : path)
    }
}
