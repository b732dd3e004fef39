"""Static web sites (swift/common/middleware/staticweb.py): containers with
X-Container-Meta-Web-Index / -Web-Listings / -Web-Listings-CSS / -Web-Error answer anonymous GETs
(and token GETs with X-Web-Mode: true) as a web site.  Reads keep the container's ACL rules:
.r:* for objects, .r:*,.rlistings for listings."""

from object_support import anonymous


def _site(acct, **meta):
    headers = {"X-Container-Read": ".r:*,.rlistings"}
    headers.update({f"X-Container-Meta-Web-{k.replace('_', '-')}": v for k, v in meta.items()})
    c = acct.put_container(headers=headers)
    return c


def test_index_redirect_and_subdirectory_index(new_account):
    acct = new_account()
    c = _site(acct, Index="index.html")
    acct.put_object(c, "index.html", b"<h1>home</h1>", headers={"Content-Type": "text/html"})
    acct.put_object(c, "docs/index.html", b"<h1>docs</h1>", headers={"Content-Type": "text/html"})
    base = acct.url_for(c)
    r = anonymous("GET", base)
    assert r.status_code == 301 and r.headers["Location"].endswith(f"/{c}/"), (r.status_code, r.headers)
    r = anonymous("GET", base + "/")
    assert r.status_code == 200 and r.content == b"<h1>home</h1>", (r.status_code, r.text)
    r = anonymous("GET", base + "/docs")
    assert r.status_code == 301 and r.headers["Location"].endswith(f"/{c}/docs/"), (r.status_code, r.headers)
    assert anonymous("GET", base + "/docs/").content == b"<h1>docs</h1>"
    assert anonymous("GET", base + "/docs/index.html").content == b"<h1>docs</h1>"
    # following redirects, as browsers (and Tempest) do
    assert anonymous("GET", base, allow_redirects=True).content == b"<h1>home</h1>"
    # an authenticated request without X-Web-Mode is an ordinary container GET (a listing)
    assert sorted(acct.req("GET", c).text.split()) == ["docs/index.html", "index.html"]
    r = acct.req("GET", c, headers={"X-Web-Mode": "true"}, allow_redirects=True)
    assert r.status_code == 200 and r.content == b"<h1>home</h1>", (r.status_code, r.text)


def test_listings_with_css_and_error_pages(new_account):
    acct = new_account()
    c = _site(acct, Listings="true", Listings_CSS="listings.css", Error="error.html")
    acct.put_object(c, "a.txt", b"alpha", headers={"Content-Type": "text/plain"})
    acct.put_object(c, "sub/b.txt", b"b" * 3000)
    acct.put_object(c, "404error.html", b"custom not found", headers={"Content-Type": "text/html"})
    base = acct.url_for(c)
    r = anonymous("GET", base + "/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (r.status_code, r.headers)
    body = r.text
    assert f"<title>Listing of {acct.path}/{c}/</title>" in body, body
    assert '<link rel="stylesheet" type="text/css" href="listings.css" />' in body, body
    assert '<a href="./a%2Etxt">a.txt</a>' in body and '<tr class="item type-text type-plain">' in body, body
    assert '<a href="./sub/">sub/</a>' in body, body
    r = anonymous("GET", base + "/sub/")
    assert r.status_code == 200 and '<a href="../">../</a>' in r.text and '<td class="colsize">3Ki</td>' in r.text, r.text
    assert 'href="../listings.css"' in r.text, r.text
    # missing objects and directories get the 404<web-error> page with status 404
    r = anonymous("GET", base + "/nothing-here")
    assert r.status_code == 404 and r.content == b"custom not found", (r.status_code, r.text)
    r = anonymous("GET", base + "/nodir/")
    assert r.status_code == 404 and r.content == b"custom not found", (r.status_code, r.text)
    # objects are served as usual
    assert anonymous("GET", base + "/a.txt").content == b"alpha"


def test_listings_need_rlistings_and_can_be_disabled(new_account):
    acct = new_account()
    c = acct.put_container(headers={"X-Container-Read": ".r:*", "X-Container-Meta-Web-Listings": "true"})
    acct.put_object(c, "o", b"o")
    base = acct.url_for(c)
    assert anonymous("GET", base + "/").status_code == 401  # objects readable, listings not
    assert anonymous("GET", base + "/o").content == b"o"
    d = _site(acct, Listings="false", Index="missing.html")
    r = anonymous("GET", acct.url_for(d) + "/")
    assert r.status_code == 404 and "Web Listing Disabled" in r.text and "Index File Not Found" in r.text, r.text
    # a private container is not a web site for anonymous callers
    p = acct.put_container(headers={"X-Container-Meta-Web-Index": "index.html"})
    acct.put_object(p, "index.html", b"secret")
    assert anonymous("GET", acct.url_for(p) + "/").status_code == 401
