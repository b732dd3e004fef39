#!/usr/bin/env bash
# Create (or reuse) the repo's .venv with tests/requirements.txt installed,
# every version fixed by tests/constraints.txt (VENV_UNLOCKED=1 ignores it, to
# refresh it).  The venv is rebuilt only when either file changes (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
REQ=tests/requirements.txt
CONSTRAINTS=tests/constraints.txt
STAMP=$VENV/.requirements.sha256
PY=${VENV_PYTHON:-python3}

constraints=()
[[ -n ${VENV_UNLOCKED:-} ]] || constraints=(-c "$CONSTRAINTS")
want=$(cat "$REQ" "$CONSTRAINTS" - <<<"${VENV_UNLOCKED:-}" | sha256sum | cut -d' ' -f1)
if [[ -x $VENV/bin/python && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
    exit 0
fi

echo "venv.sh: building $VENV from $REQ" >&2
start=$SECONDS
rm -rf "$VENV"
if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    echo "venv.sh: '$PY -m venv' failed, installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$PY" -m venv "$VENV"
fi

pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
# Old pips (Debian's 23.0) resolve these trees fine; only upgrade a really old one.
if ! "${pip[@]}" --version | grep -qE '^pip (2[3-9]|[3-9][0-9])\.'; then
    "${pip[@]}" install -q --upgrade pip
fi
"${pip[@]}" install -q --prefer-binary -r "$REQ" "${constraints[@]}"
echo "$want" > "$STAMP"
echo "venv.sh: done in $((SECONDS - start)) s" >&2
