import NimbusCore

/// An image as the block storage service needs it: to check a volume made from it (status,
/// `min_disk`, size) and to copy its metadata into `volume_image_metadata`.
public struct VolumeImage: Sendable {
    public var id: String
    public var name: String?
    public var status: String
    public var diskFormat: String?
    public var containerFormat: String?
    public var size: Int64?
    public var minDiskGB: Int64
    public var minRamMB: Int64
    public var checksum: String?
    /// The image's additional properties (Cinder copies them into the volume's image metadata).
    public var properties: [Name: String]

    public init(id: String, name: String?, status: String, diskFormat: String?, containerFormat: String?, size: Int64?, minDiskGB: Int64,
                minRamMB: Int64, checksum: String?, properties: [Name: String]) {
        self.id = id
        self.name = name
        self.status = status
        self.diskFormat = diskFormat
        self.containerFormat = containerFormat
        self.size = size
        self.minDiskGB = minDiskGB
        self.minRamMB = minRamMB
        self.checksum = checksum
        self.properties = properties
    }
}

/// The image service as the block storage service uses it.
public protocol VolumeImageClient: Sendable {
    /// The image `ref` names as `caller` may see it: by id, else by name (Cinder's
    /// `_image_uuid_from_ref`); nil when none is visible; 409 when several have the name.
    func image(_ ref: String, caller: AuthContext) async throws -> VolumeImage?
    /// The image's bytes for the storage node.
    func source(_ id: String) async throws -> any ImageSource
    /// Creates a queued image for a volume's upload (`create` carries Glance's core attributes
    /// and the properties); returns its id and what Glance shows of it.
    func createImage(_ create: JSONObject, owner: String) async throws -> (id: String, image: JSONObject)
    /// Uploads a file as the image's data (the storage node's export of a volume).
    func upload(_ imageID: String, file: String) async throws
    /// Deletes an image whose upload failed (nothing when it is gone).
    func deleteImage(_ id: String) async throws
}
