#!/usr/bin/env bash
# User-space instructions per request of mapigate, counted by callgrind: steady to about 1 %
# where the timed benchmark (bench/run.sh) moves by up to 15 % between runs, and available where
# the machine exposes no hardware counters (perf stat: "instructions not supported", as in VMs).
#
#   bench/instructions.sh [BINARY [BASELINE]]
#
# For each binary and each protocol (HTTP/1.1 and HTTP/2 over TLS, one worker, the bench's
# configuration and backend), serves N1 and then N2 MAPI Executes from 16 connections under
# callgrind and prints (Ir(N2) - Ir(N1)) / (N2 - N1): what one more request costs, with start-up,
# handshakes and shutdown cancelled out. The count still moves by about 1.5 % from one pair to
# the next (how many events one epoll_wait returns depends on timing, and with it the work per
# request), so each figure is the median of REPEAT pairs, with the lowest and highest beside it.
# Valgrind slows the proxy about fifty times, so only the counts mean anything, never the
# times. Knobs: N1 (3000), N2 (6000), REPEAT (5), PROTOCOLS ("h1 h2"), INSTALL=0 (install
# nothing), BUILD_DIR (build-release). Takes a few minutes; every run is bounded (timeout) and
# the processes it starts are stopped on exit.
set -euo pipefail
# The binaries named relative to where it was called from, before it moves to the repository.
BINARY=${1:+$(realpath -- "$1")}
BASELINE=${2:+$(realpath -- "$2")}
cd "$(dirname "$0")/.."
ROOT=$PWD
BINARY=${BINARY:-$ROOT/${BUILD_DIR:-build-release}/bin/mapigate}
N1=${N1:-3000}
N2=${N2:-6000}
REPEAT=${REPEAT:-5}
PROTOCOLS=${PROTOCOLS:-h1 h2}
INSTALL=${INSTALL:-1}
HOST=localhost
MAILBOX=bench@corp.test
PORT=${PORT:-19180}
PORT_BACKEND=${PORT_BACKEND:-19181}

log() { printf '[instructions %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "error: $*"; exit 1; }

[ "$INSTALL" = 1 ] && scripts/install-deps.sh valgrind nghttp2-client
for tool in valgrind h2load cc openssl; do
  command -v "$tool" >/dev/null || fail "$tool not found (run without INSTALL=0)"
done
for b in "$BINARY" ${BASELINE:+"$BASELINE"}; do [ -x "$b" ] || fail "$b is not an executable"; done
[ "$N2" -gt "$N1" ] || fail "N2 must be larger than N1"

RUN=$(mktemp -d /tmp/mapigate-instructions.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap cleanup EXIT

cc -O2 -Wall -o "$RUN/mapi-responder" bench/tools/mapi-responder.c
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
  -keyout "$RUN/server.key" -out "$RUN/server.pem" 2>/dev/null
head -c 1024 /dev/zero | tr '\0' x >"$RUN/body1k"
text=$(cat bench/conf/mapigate.yaml.in)
for kv in WORKERS=1 PORT="$PORT" CERT="$RUN/server.pem" KEY="$RUN/server.key" \
  "ALPN=[h2, http/1.1]" BACKEND_PORT="$PORT_BACKEND" LOGS=; do
  text=${text//@${kv%%=*}@/${kv#*=}}
done
printf '%s\n' "$text" >"$RUN/mapigate.yaml"

"$RUN/mapi-responder" --listen "127.0.0.1:$PORT_BACKEND" --body-bytes 4096 \
  --pending-period 15000 --wait 600000 >"$RUN/responder.out" 2>&1 &
PIDS+=($!)

# instructions BINARY PROTOCOL N: the Ir total of one callgrind run serving N requests
instructions() {
  local bin=$1 proto=$2 n=$3 out="$RUN/callgrind.out" vg i ok
  rm -f "$out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" run -c "$RUN/mapigate.yaml" \
    >"$RUN/mapigate.out" 2>&1 &
  vg=$!
  PIDS+=("$vg")
  for i in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$vg" 2>/dev/null || fail "$bin exited at start: $(tail -n 3 "$RUN/mapigate.out")"
    sleep 0.2
  done
  local h1=()
  [ "$proto" = h1 ] && h1=(--h1)
  timeout 600 h2load "${h1[@]}" -c 16 -m 1 -n "$n" -d "$RUN/body1k" \
    -H 'X-RequestType: Execute' -H 'X-RequestId: {x}:1' -H 'Content-Type: application/mapi-http' \
    "https://$HOST:$PORT/mapi/emsmdb/?MailboxId=$MAILBOX" >"$RUN/load.out" 2>&1 || true
  kill -TERM "$vg" 2>/dev/null || true
  wait "$vg" 2>/dev/null || true
  ok=$(sed -n 's/.* \([0-9]*\) succeeded.*/\1/p' "$RUN/load.out")
  [ "$ok" = "$n" ] || fail "$bin ($proto): $ok of $n requests succeeded"
  sed -n 's/^summary: *//p' "$out"
}

printf '| binary | protocol | instructions per request (median of %s) | lowest | highest |\n' "$REPEAT"
printf '|---|---|---:|---:|---:|\n'
for bin in "$BINARY" ${BASELINE:+"$BASELINE"}; do
  for proto in $PROTOCOLS; do
    per=()
    for r in $(seq 1 "$REPEAT"); do
      log "$bin $proto ($r/$REPEAT): $N1 then $N2 requests"
      a=$(instructions "$bin" "$proto" "$N1")
      b=$(instructions "$bin" "$proto" "$N2")
      per+=("$(awk -v a="$a" -v b="$b" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }')")
    done
    printf '%s\n' "${per[@]}" | sort -n | awk -v bin="$bin" -v proto="$proto" '
      { v[NR] = $1 }
      END { printf "| `%s` | %s | %d | %d | %d |\n", bin, proto, v[int((NR + 1) / 2)], v[1], v[NR] }'
  done
done
