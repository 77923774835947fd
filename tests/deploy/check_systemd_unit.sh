#!/usr/bin/env bash
# Checks deploy/systemd/mapigate.service.
#
# Usage: check_systemd_unit.sh REPO_ROOT MAPIGATE_BINARY
#
# 1. A few properties the proxy's behaviour depends on (plain text checks, always run):
#    Type=notify, the config is checked before start and before reload, TimeoutStopSec leaves
#    room for the 30 s drain.
# 2. `systemd-analyze verify` on a copy of the unit whose /usr/bin/mapigate is replaced by
#    MAPIGATE_BINARY (verify refuses a unit whose ExecStart= binary does not exist).
#    verify exits 0 on most unit-file mistakes (unknown key, bad value, missing '='): it only
#    prints "FILE:LINE: ..., ignoring". So any line it prints about our unit is a failure, and
#    so is a non-zero exit. Lines about other units (this machine's own, pulled in through
#    After=/Wants=) are shown but do not fail the test. A warning that the mapigate user
#    does not exist (it only exists where the service is installed) is tolerated.
#    Without systemd-analyze this part prints SKIP; the script then exits 0 if part 1 passed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REPO_ROOT MAPIGATE_BINARY" >&2
  exit 2
fi
root=$(cd "$1" && pwd)
binary=$2
unit=$root/deploy/systemd/mapigate.service

[[ -f $unit ]] || { echo "FAIL: missing $unit" >&2; exit 1; }

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# --- 1. Text checks. Values of the last assignment win, as in systemd.
value_of() { sed -nE "s/^$1=(.*)$/\1/p" "$unit" | tail -n 1; }
# systemd time span ("45s", "1min 30s", "90") to seconds; unsupported units give -1.
seconds_of() {
  local total=0 part n u
  for part in $1; do
    [[ $part =~ ^([0-9]+)(s|sec|m|min|)$ ]] || { echo -1; return; }
    n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
    case $u in m|min) total=$((total + n * 60)) ;; *) total=$((total + n)) ;; esac
  done
  echo "$total"
}

# expect DESCRIPTION ACTUAL WANTED: pass when ACTUAL equals WANTED.
expect() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: expected '$3', got '$2'"; fi
}
expect "Type" "$(value_of Type)" notify
expect "NotifyAccess" "$(value_of NotifyAccess)" main
expect "ExecStart" "$(value_of ExecStart)" "/usr/bin/mapigate run -c /etc/mapigate/mapigate.yaml"
expect "ExecStartPre (config check)" "$(value_of ExecStartPre)" "/usr/bin/mapigate check -c /etc/mapigate/mapigate.yaml"
expect "CapabilityBoundingSet" "$(value_of CapabilityBoundingSet)" CAP_NET_BIND_SERVICE
expect "AmbientCapabilities" "$(value_of AmbientCapabilities)" CAP_NET_BIND_SERVICE
mapfile -t reload < <(sed -nE 's/^ExecReload=(.*)$/\1/p' "$unit")
if [[ ${#reload[@]} -eq 2 && ${reload[0]} == "/usr/bin/mapigate check -c /etc/mapigate/mapigate.yaml" \
      && ${reload[1]} =~ ^(/usr)?/bin/kill\ -HUP\ \$MAINPID$ ]]; then
  pass "ExecReload: check, then SIGHUP"
else
  fail "ExecReload must be 'mapigate check' followed by 'kill -HUP \$MAINPID' (got: ${reload[*]:-none})"
fi
stop=$(seconds_of "$(value_of TimeoutStopSec)")
drain=30 # timeouts.drain default and value of deploy/mapigate.example.yaml
if (( stop > drain )); then
  pass "TimeoutStopSec (${stop}s) > drain (${drain}s)"
else
  fail "TimeoutStopSec '$(value_of TimeoutStopSec)' must be a time span above the ${drain}s drain"
fi

# --- 2. systemd-analyze verify.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not found, unit not verified"
  if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed" >&2; exit 1; fi
  exit 0
fi
if [[ ! -x $binary ]]; then
  echo "FAIL: MAPIGATE_BINARY '$binary' is not an executable file" >&2
  exit 1
fi
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The copy keeps the unit's name: verify derives the unit name (and type) from the file name.
sed "s#/usr/bin/mapigate#${binary//#/\\#}#g" "$unit" >"$tmp/mapigate.service"
grep -q "/usr/bin/mapigate" "$tmp/mapigate.service" && fail "rewriting /usr/bin/mapigate failed"

rc=0
systemd-analyze verify --man=no "$tmp/mapigate.service" >"$tmp/out" 2>&1 || rc=$?
# Lines about our unit: "…/mapigate.service:LINE: …", "mapigate.service: …", "Unit mapigate.service …".
grep -F "mapigate.service" "$tmp/out" \
  | grep -viE '(user|group)[^:]*mapigate[^:]*(not found|does not exist|no such)|unknown (user|group).*mapigate' \
  >"$tmp/ours" || true
grep -vF "mapigate.service" "$tmp/out" >"$tmp/others" || true

if [[ -s $tmp/others ]]; then
  echo "note: systemd-analyze printed lines about other units (not failing on them):"
  sed 's/^/      /' "$tmp/others"
fi
if [[ $rc -ne 0 || -s $tmp/ours ]]; then
  fail "systemd-analyze verify (exit $rc) reports problems in mapigate.service"
  if [[ -s $tmp/ours ]]; then src=$tmp/ours; else src=$tmp/out; fi
  sed "s#$tmp/##; s/^/      /" "$src" >&2
else
  pass "systemd-analyze verify: no findings"
fi

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "systemd unit checks passed"
