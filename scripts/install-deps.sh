#!/usr/bin/env bash
# Installs, from Debian 12's own packages, whatever mapigate needs to build, test and run the
# demo that is not installed yet. Non-interactive; needs root (or sudo). Installs nothing else.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libnghttp2-dev
  libssl-dev libyaml-cpp-dev zlib1g-dev libexpat1-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev
  openssl ca-certificates curl
  prometheus jq nghttp2-client help2man haproxy
  python3-kubernetes python3-yaml
)
if [ "$#" -gt 0 ]; then packages+=("$@"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Some packages ship daemons (prometheus, which brings promtool; haproxy, the balancer of the
# scale-out tests and a peer in the benchmark; the benchmark's
# nginx): they are tools here, not services. A policy-rc.d that denies every start keeps
# their postinst scripts from starting them; it is removed again afterwards. An existing
# policy-rc.d is left untouched.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# mapigate install-deps: no service starts during this install\nexit 101\n' |
    "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
