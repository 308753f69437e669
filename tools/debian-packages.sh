#!/usr/bin/env bash
# Install Debian packages a test environment needs (tox calls it before the tests that
# use them), so `python3 -m tox` works on a machine that has only Python, pip and apt.
# Usage: tools/debian-packages.sh BINARY=PACKAGE ...  e.g. /usr/bin/chromium=chromium
# A binary already present is left alone; without root or apt the tests that need the
# binary skip with a reason instead.
set -euo pipefail
# The packages whose binary is not there yet, into ${missing[@]}.
find_missing() {
    missing=()
    for pair in "$@"; do
        [ -x "${pair%%=*}" ] || missing+=("${pair#*=}")
    done
}
find_missing "$@"
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "debian-packages: not root or no apt-get; missing: ${missing[*]} (their tests skip)" >&2
    exit 0
fi
# tox may run two environments at once: one apt at a time, the second finds it installed.
exec 9>/tmp/memwatch-debian-packages.lock
flock 9
find_missing "$@"
[ "${#missing[@]}" -eq 0 ] && exit 0
# Packages such as prometheus start a service when installed; tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "debian-packages: installed ${missing[*]}"
