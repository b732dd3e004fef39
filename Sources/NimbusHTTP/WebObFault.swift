/// The fault names of the services built on WebOb faults (`nova/api/openstack/wsgi.py` and
/// `cinder/api/openstack/wsgi.py` `Fault._fault_names`): the body's one key per status.
public enum WebObFault {
    public static func name(_ status: Int) -> String {
        switch status {
        case 400: "badRequest"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "itemNotFound"
        case 405: "badMethod"
        case 409: "conflictingRequest"
        case 413: "overLimit"
        case 415: "badMediaType"
        case 501: "notImplemented"
        case 503: "serviceUnavailable"
        default: "computeFault"
        }
    }
}
