"""Container quotas (swift/common/middleware/container_quotas.py) and account quotas
(swift/common/middleware/account_quotas.py): over-quota uploads are 413; account quotas
are set only by a reseller admin (anyone else: 403)."""

from object_support import wait_until


def test_container_quota_bytes(new_account):
    acct = new_account()
    c = acct.put_container("qb", headers={"X-Container-Meta-Quota-Bytes": "10"})
    assert acct.req("HEAD", c).headers["X-Container-Meta-Quota-Bytes"] == "10"
    acct.put_object(c, "first", b"1234567")
    acct.put_object(c, "second", b"890")  # exactly at the quota is fine
    r = acct.req("PUT", c, "third", data=b"x")
    assert r.status_code == 413, (r.status_code, r.text)
    assert "Upload exceeds quota." in r.text
    assert acct.req("HEAD", c, "third").status_code == 404
    # freeing space makes room again
    assert acct.req("DELETE", c, "first").status_code == 204
    acct.put_object(c, "third", b"x")
    # raising/removing the quota is ordinary container metadata
    assert acct.req("POST", c, headers={"X-Remove-Container-Meta-Quota-Bytes": "x"}).status_code == 204
    acct.put_object(c, "big", b"y" * 1000)


def test_container_quota_bytes_counts_the_new_object_whole(new_account):
    acct = new_account()
    c = acct.put_container("qb2", headers={"X-Container-Meta-Quota-Bytes": "100"})
    r = acct.req("PUT", c, "too-big", data=b"z" * 101)
    assert r.status_code == 413, (r.status_code, r.text)
    assert acct.listing(c) == []


def test_container_quota_count(new_account):
    acct = new_account()
    c = acct.put_container("qc", headers={"X-Container-Meta-Quota-Count": "2"})
    acct.put_object(c, "a", b"1")
    acct.put_object(c, "b", b"2")
    r = acct.req("PUT", c, "c", data=b"3")
    assert r.status_code == 413, (r.status_code, r.text)
    assert acct.names(c) == ["a", "b"]
    assert acct.req("POST", c, headers={"X-Container-Meta-Quota-Count": "3"}).status_code == 204
    acct.put_object(c, "c", b"3")


def test_container_quota_values_are_validated(new_account):
    acct = new_account()
    for header in ("X-Container-Meta-Quota-Bytes", "X-Container-Meta-Quota-Count"):
        for bad in ("ten", "-1", "1.5"):
            r = acct.req("PUT", "bad-quota", headers={header: bad})
            assert r.status_code == 400, (header, bad, r.status_code, r.text)
    assert acct.req("HEAD", "bad-quota").status_code == 404
    c = acct.put_container("ok")
    r = acct.req("POST", c, headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert r.status_code == 400 and "Invalid bytes quota." in r.text, (r.status_code, r.text)
    r = acct.req("POST", c, headers={"X-Container-Meta-Quota-Count": "many"})
    assert r.status_code == 400 and "Invalid count quota." in r.text, (r.status_code, r.text)


def test_account_quota_only_by_reseller_admin(new_account):
    owner = new_account()
    for header in ("X-Account-Meta-Quota-Bytes", "X-Account-Quota-Bytes", "X-Account-Quota-Count"):
        r = owner.req("POST", headers={header: "100"})
        assert r.status_code == 403, (header, r.status_code, r.text)
    h = owner.req("HEAD").headers
    assert "X-Account-Meta-Quota-Bytes" not in h and "X-Account-Quota-Bytes" not in h

    reseller = new_account("ResellerAdmin").on(owner)
    r = reseller.req("POST", headers={"X-Account-Meta-Quota-Bytes": "20"})
    assert r.status_code == 204, (r.status_code, r.text)
    h = owner.req("HEAD").headers
    # the legacy header is also stored as sysmeta and reported as X-Account-Quota-Bytes
    assert h["X-Account-Meta-Quota-Bytes"] == "20"
    assert h["X-Account-Quota-Bytes"] == "20"
    # the owner cannot lift it either
    r = owner.req("POST", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
    assert r.status_code == 403, (r.status_code, r.text)
    r = reseller.req("POST", headers={"X-Account-Quota-Bytes": "not-a-number"})
    assert r.status_code == 400, (r.status_code, r.text)


def test_account_quota_bytes_is_enforced(new_account):
    owner = new_account()
    c = owner.put_container("acct-q")
    reseller = new_account("ResellerAdmin").on(owner)
    assert reseller.req("POST", headers={"X-Account-Meta-Quota-Bytes": "20"}).status_code == 204
    owner.put_object(c, "fits", b"x" * 15)
    wait_until(lambda: owner.req("HEAD").headers["X-Account-Bytes-Used"] == "15", timeout=15,
               what="account bytes used 15")
    r = owner.req("PUT", c, "overflows", data=b"y" * 6)
    assert r.status_code == 413, (r.status_code, r.text)
    assert "Upload exceeds quota." in r.text
    owner.put_object(c, "just-fits", b"y" * 5)
    # a reseller admin is not bound by the quota
    reseller.put_object(c, "reseller-put", b"z" * 50)
    # removing the quota lifts the limit
    assert reseller.req("POST", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"}).status_code == 204
    assert "X-Account-Quota-Bytes" not in owner.req("HEAD").headers
    owner.put_object(c, "after", b"w" * 100)


def test_account_quota_count_is_enforced(new_account):
    owner = new_account()
    c = owner.put_container("acct-qc")
    reseller = new_account("ResellerAdmin").on(owner)
    assert reseller.req("POST", headers={"X-Account-Quota-Count": "2"}).status_code == 204
    assert owner.req("HEAD").headers["X-Account-Quota-Count"] == "2"
    owner.put_object(c, "one", b"1")
    owner.put_object(c, "two", b"2")
    wait_until(lambda: owner.req("HEAD").headers["X-Account-Object-Count"] == "2", timeout=15,
               what="account object count 2")
    r = owner.req("PUT", c, "three", data=b"3")
    assert r.status_code == 413, (r.status_code, r.text)
