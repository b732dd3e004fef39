# Flatten a JSON document into one "PATH<TAB>VALUE" line per scalar, for the
# Nimbus test guest, which has only busybox (run: awk -f jsonflat.awk FILE).
#
#   {"hostname": "vm1", "public_keys": {"k": "ssh-ed25519 AAAA x"}, "a": [1, {"b": true}]}
# gives
#   hostname	vm1
#   public_keys/k	ssh-ed25519 AAAA x
#   a/0	1
#   a/1/b	true
#
# Object keys and array indexes are joined with "/".  Strings are unescaped;
# \uXXXX outside ASCII becomes "?", and control characters (including escaped
# newlines and tabs) become spaces, so every value stays on its line.  null
# yields no line.  Malformed input: a message on stderr and exit status 1.

{ src = src $0 "\n" }

END {
    n = length(src); i = 1
    value("")
    skipws()
    if (i <= n) fail("trailing data")
}

function fail(msg) {
    printf "jsonflat: %s at offset %d\n", msg, i > "/dev/stderr"
    exit 1
}

function skipws() {
    while (i <= n && index(" \t\r\n", substr(src, i, 1))) i++
}

function emit(path, v) {
    gsub(/[\001-\037]/, " ", path)
    gsub(/[\001-\037]/, " ", v)
    print path "\t" v
}

function hexval(h,    k, d, v) {
    v = 0
    for (k = 1; k <= length(h); k++) {
        d = index("0123456789abcdef", tolower(substr(h, k, 1)))
        if (!d) fail("bad \\u escape")
        v = v * 16 + d - 1
    }
    return v
}

# The string starting at src[i] (a double quote); leaves i after its end.
function str(    out, c, run, code) {
    i++; out = ""
    while (i <= n) {
        # copy a run of ordinary characters at once
        if (match(substr(src, i, 256), /^[^"\\]+/)) {
            out = out substr(src, i, RLENGTH); i += RLENGTH
            continue
        }
        c = substr(src, i, 1)
        if (c == "\"") { i++; return out }
        # a backslash escape
        c = substr(src, i + 1, 1); i += 2
        if (c == "u") {
            code = hexval(substr(src, i, 4)); i += 4
            if (code >= 32 && code < 127) out = out sprintf("%c", code)
            else if (code < 32) out = out " "
            else out = out "?"
        } else if (c == "\"" || c == "\\" || c == "/") out = out c
        else if (index("bfnrt", c) && c != "") out = out " "
        else fail("bad escape")
    }
    fail("unterminated string")
}

function value(path,    c, k, idx) {
    skipws()
    c = substr(src, i, 1)
    if (c == "{") {
        i++; skipws()
        if (substr(src, i, 1) == "}") { i++; return }
        while (1) {
            skipws()
            if (substr(src, i, 1) != "\"") fail("expected a key")
            k = str()
            skipws()
            if (substr(src, i, 1) != ":") fail("expected ':'")
            i++
            value(path == "" ? k : path "/" k)
            skipws()
            c = substr(src, i, 1); i++
            if (c == "}") return
            if (c != ",") fail("expected ',' or '}'")
        }
    }
    if (c == "[") {
        i++; skipws()
        if (substr(src, i, 1) == "]") { i++; return }
        idx = 0
        while (1) {
            value(path == "" ? idx : path "/" idx)
            idx++
            skipws()
            c = substr(src, i, 1); i++
            if (c == "]") return
            if (c != ",") fail("expected ',' or ']'")
        }
    }
    if (c == "\"") { emit(path, str()); return }
    if (match(substr(src, i, 64), /^(-?[0-9][0-9.eE+-]*|true|false|null)/)) {
        k = substr(src, i, RLENGTH); i += RLENGTH
        if (k != "null") emit(path, k)
        return
    }
    fail("unexpected character")
}
