import Foundation
import NimbusCore

/// The documents a guest reads about itself (`nova/api/metadata/base.py` `InstanceMetadata`):
/// `meta_data.json` for the config drive (the node lays out the drive), and later the metadata service.
public enum InstanceMetadata {
    /// `meta_data.json` of an instance.
    public static func metaData(_ i: Instance) -> JSONValue {
        var keys = [JSONValue]()
        var publicKeys = JSONObject()
        if let name = i.keyName, let data = i.keyData {
            keys.append(["name": .string(name), "type": "ssh", "data": .string(data)])
            publicKeys[name] = .string(data)
        }
        let seed = Data((0..<512).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return ["uuid": .string(i.id), "name": .string(i.name), "hostname": .string(i.hostname), "launch_index": .int(Int64(i.launchIndex)),
                "availability_zone": JSONValue(i.availabilityZone ?? ComputeService.defaultZone), "project_id": .string(i.projectID),
                "meta": .object(JSONObject(names: i.metadata.mapValues { JSONValue.string($0) })), "public_keys": .object(publicKeys),
                "keys": .array(keys), "devices": [], "dedicated_cpus": [], "random_seed": .string(seed)]
    }
}
