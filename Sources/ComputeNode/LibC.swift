#if canImport(Glibc)
import Glibc
#endif

/// The few GNU extensions Swift's Glibc module does not export (it is built without
/// `_GNU_SOURCE`), looked up once by name.
enum LibC {
    static let POSIX_SPAWN_SETSID: Int32 = 0x80
    static let FALLOC_FL_COLLAPSE_RANGE: Int32 = 0x08

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Fallocate = @convention(c) (Int32, Int32, Int, Int) -> Int32

    private static let closeFromFn: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    private static let fallocateFn: Fallocate? = symbol("fallocate64") ?? symbol("fallocate")

    private static func symbol<T>(_ name: String) -> T? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(p, to: T.self)
    }

    /// Adds "close every descriptor from `fd` up" to a spawn's actions (glibc 2.34+). False when
    /// the C library lacks it; descriptors then rely on their close-on-exec flags.
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ fd: Int32) -> Bool {
        guard let f = closeFromFn else { return false }
        return f(actions, fd) == 0
    }

    /// fallocate(2); -1 with errno EOPNOTSUPP when unavailable.
    static func fallocate(_ fd: Int32, _ mode: Int32, _ offset: Int, _ length: Int) -> Int32 {
        guard let f = fallocateFn else { errno = EOPNOTSUPP; return -1 }
        return f(fd, mode, offset, length)
    }
}
