import Foundation
import NimbusCore
#if canImport(Glibc)
import Glibc
#endif

/// What the host has, as Nova's libvirt driver measures it for Placement.
enum HostFacts {
    static func onlineCPUs() -> Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// MemTotal of /proc/meminfo, in MiB.
    static func memoryMB() -> Int {
        for line in procLines("/proc/meminfo") where line.hasBytePrefix("MemTotal:") {
            let kb = line.splitBytes(" ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb / 1024
        }
        return 0
    }

    /// Size of the file system holding `path`, in GiB (Nova reports the instances path's).
    static func diskGB(_ path: String) -> Int {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return 0 }
        return Int((UInt64(fs.f_blocks) * UInt64(fs.f_frsize)) >> 30)
    }

    static func cpuModel() -> String {
        for line in procLines("/proc/cpuinfo") where line.hasBytePrefix("model name") {
            if let (_, value) = line.splitOnceBytes(":") { return value.trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }

    private static func procLines(_ path: String) -> [Substring] {
        guard let bytes = try? FileIO.read(path, count: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).splitBytes("\n")
    }
}
