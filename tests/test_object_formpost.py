"""Form POST (swift/common/middleware/formpost.py): a multipart/form-data POST to
/v1/<account>/<container>[/<prefix>], signed with a temp URL key over
"<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n<expires>", uploads each file field
as <prefix><filename>.  Nimbus serves Swift under /object; a form signed over the full URL path
(as Tempest signs it) or over the path from /v1 (as swift-form-signature signs it) both work."""

import base64
import hashlib
import hmac
import os
import time

from object_support import anonymous, swift_info

KEY = "form-secret"


def _form(acct, container, prefix="", *, files, key=KEY, redirect="", max_file_size=1 << 20, max_file_count=10,
          expires=None, digest="sha1", sign_path=None, extra=None, boundary="nimbus-form-boundary"):
    """(url, body, headers) of a form POST; files: list of (filename, content_type or None, bytes)."""
    path = f"{acct.path}/{container}/{prefix}"
    expires = int(time.time() + 300) if expires is None else expires
    signed = sign_path if sign_path is not None else path
    message = f"{signed}\n{redirect}\n{max_file_size}\n{max_file_count}\n{expires}"
    mac = hmac.new(key.encode(), message.encode(), getattr(hashlib, digest))
    sig = ("sha512:" + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")) if digest == "sha512" else mac.hexdigest()
    fields = {"redirect": redirect, "max_file_size": str(max_file_size), "max_file_count": str(max_file_count),
              "expires": str(expires), "signature": sig, **(extra or {})}
    out = b""
    for k, v in fields.items():
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
    for i, (name, ctype, data) in enumerate(files):
        head = f"--{boundary}\r\nContent-Disposition: form-data; name=\"file{i}\"; filename=\"{name}\"\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out += head.encode() + b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    url = acct.cloud.base_url + path
    return url, out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _setup(new_account):
    acct = new_account()
    assert acct.req("POST", headers={"X-Account-Meta-Temp-URL-Key": KEY}).status_code == 204
    return acct, acct.put_container()


def test_formpost_is_advertised(cloud):
    assert "formpost" in swift_info(cloud)


def test_files_are_uploaded_under_the_prefix(new_account):
    acct, c = _setup(new_account)
    big = os.urandom(300_000)  # spans many reads, so boundaries fall across chunks
    url, body, headers = _form(acct, c, "up/", files=[("a.txt", "text/plain", b"hello world"), ("b.bin", None, big)])
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.text == "201 Created" and r.headers["Content-Type"].startswith("text/plain")
    assert sorted(acct.names(c)) == ["up/a.txt", "up/b.bin"]
    got = acct.req("GET", c, "up/a.txt")
    assert got.content == b"hello world" and got.headers["Content-Type"] == "text/plain"
    assert acct.get_body(c, "up/b.bin") == big
    assert acct.req("HEAD", c, "up/b.bin").headers["Content-Type"] == "application/octet-stream"


def test_form_on_the_container_and_signed_from_v1(new_account):
    acct, c = _setup(new_account)
    # the container's own key, and the path from /v1 on (swift-form-signature's form)
    assert acct.req("POST", c, headers={"X-Container-Meta-Temp-URL-Key": "ckey"}).status_code == 204
    v1_path = acct.path[len("/object"):] + f"/{c}"
    url, body, headers = _form(acct, c, files=[("x", None, b"x")], key="ckey", digest="sha256", sign_path=v1_path)
    url = url.rstrip("/")  # action URL naming only the container: the file goes to <container>/x
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 201, (r.status_code, r.text)
    assert acct.get_body(c, "x") == b"x"


def test_redirect_gets_status_and_message(new_account):
    acct, c = _setup(new_account)
    url, body, headers = _form(acct, c, files=[("r.txt", None, b"data")], redirect="https://example.invalid/done?x=1",
                               digest="sha512", extra={"x_delete_after": "3600"})
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 303, (r.status_code, r.text)
    assert r.headers["Location"] == "https://example.invalid/done?x=1&status=201&message=", r.headers
    assert "Click to continue" in r.text
    head = acct.req("HEAD", c, "r.txt")
    assert head.status_code == 200 and int(head.headers["X-Delete-At"]) > time.time() + 3000, head.headers


def test_expired_and_bad_signatures_are_401(new_account):
    acct, c = _setup(new_account)
    url, body, headers = _form(acct, c, files=[("e", None, b"e")], expires=int(time.time()) - 10)
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 401 and "FormPost: Form Expired" in r.text, (r.status_code, r.text)
    url, body, headers = _form(acct, c, files=[("e", None, b"e")], key="wrong")
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 401 and "FormPost: Invalid Signature" in r.text, (r.status_code, r.text)
    # no keys at all on another account
    other = new_account()
    oc = other.put_container()
    url, body, headers = _form(other, oc, files=[("e", None, b"e")])
    assert anonymous("POST", url, data=body, headers=headers).status_code == 401
    assert acct.names(c) == [] and other.names(oc) == []


def test_limits_and_malformed_forms_are_400(new_account):
    acct, c = _setup(new_account)
    url, body, headers = _form(acct, c, files=[("big", None, b"y" * 2000)], max_file_size=1000)
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 400 and r.text == "FormPost: max_file_size exceeded", (r.status_code, r.text)
    assert acct.names(c) == []
    url, body, headers = _form(acct, c, files=[("one", None, b"1"), ("two", None, b"2")], max_file_count=1)
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 400 and r.text == "400 Bad Request\r\nFormPost: Max File Count Exceeded", (r.status_code, r.text)
    assert acct.names(c) == ["one"]
    url, body, headers = _form(acct, c, files=[])
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 400 and "FormPost: No Files To Process" in r.text, (r.status_code, r.text)
    r = anonymous("POST", url, data=b"garbage first" + body, headers=headers)
    assert r.status_code == 400 and r.text == "FormPost: invalid starting boundary", (r.status_code, r.text)
    url, body, headers = _form(acct, c, files=[("n", None, b"n")], extra={"x_delete_at": "soon"})
    r = anonymous("POST", url, data=body, headers=headers)
    assert r.status_code == 400 and "x_delete_at not an integer" in r.text, (r.status_code, r.text)
