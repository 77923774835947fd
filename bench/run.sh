#!/usr/bin/env bash
# bench/run.sh — mapigate against HAProxy and nginx, same machine, same certificate, same backend.
#
# Installs what is missing (Debian packages only: the build dependencies plus haproxy, nginx, wrk,
# nghttp2-client), builds mapigate in Release, builds the two small C tools in bench/tools/, then
# runs every workload against every proxy, rounds interleaved (A B C A B C ...), prints a table of
# medians and of mapigate's ratio to the best peer, and appends it to bench/RESULTS.md.
# Everything listens on 127.0.0.1; every process it starts is stopped by its PID on exit.
# See bench/README.md for what is measured and how to read the table.
#
#   bench/run.sh             full run (3 rounds x 10 s per measurement; the measuring part is
#                            bounded by BUDGET, 540 s by default)
#   QUICK=1 bench/run.sh     short run (2 s measurements, fewer connections) to check the harness
#
# Knobs (environment): WORKLOADS ("h1 h2 newconn idle longpoll"), ROUNDS, DURATION (s), CONNS (wrk/h2load connections), NEWCONN_CLIENTS,
# IDLE_CONNS, LONGPOLLS, PENDING_PERIOD (ms), PENDING_WATCH (s), WORKERS (threads/processes per proxy), BUDGET (s), BUILD=0 (use the
# existing build-release), INSTALL=0 (install nothing), BUILD_JOBS, MAPIGATE_LOGS=1 (add a
# "mapigate+logs" contender with HttpProxy logging on), HAPROXY_REUSE (http-reuse mode, "safe"),
# RESULTS (file to append to; RESULTS=- appends nothing), KEEP=1 (keep the temporary directory),
# BASELINE=PATH (a second mapigate binary, e.g. the build before a change, measured side by side
# as "mapigate-before"), PIN=1 (the proxy on the last core with one worker, load generator and
# backend on the others, with taskset: CPU per request less at the mercy of the run queue),
# SYSCALLS=0 (do not count system calls per request with perf stat).
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true   # "&" in a substituted value stays "&"
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-2} IDLE_CONNS=${IDLE_CONNS:-200}
  LONGPOLLS=${LONGPOLLS:-100} WARMUP=${WARMUP:-1}
else
  ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} IDLE_CONNS=${IDLE_CONNS:-2000}
  LONGPOLLS=${LONGPOLLS:-5000} WARMUP=${WARMUP:-1}
fi
PENDING_PERIOD=${PENDING_PERIOD:-1000}  # ms between a held long-poll's PENDINGs (asked of the backend)
PENDING_WATCH=${PENDING_WATCH:-3}       # s the PENDINGs of every held long-poll are timed
CONNS=${CONNS:-64}
NEWCONN_CLIENTS=${NEWCONN_CLIENTS:-16}
PIN=${PIN:-0}
if [ "$PIN" = 1 ]; then WORKERS=${WORKERS:-1}; else WORKERS=${WORKERS:-2}; fi
BASELINE=${BASELINE:-}
SYSCALLS=${SYSCALLS:-1}
SYSCALL_SECONDS=${SYSCALL_SECONDS:-3}  # the extra run in which system calls are counted
LOADGEN_THREADS=${LOADGEN_THREADS:-2}
BUDGET=${BUDGET:-540}
BUILD=${BUILD:-1}
INSTALL=${INSTALL:-1}
BUILD_JOBS=${BUILD_JOBS:-$(nproc)}
MAPIGATE_LOGS=${MAPIGATE_LOGS:-0}
HAPROXY_REUSE=${HAPROXY_REUSE:-safe}
RESULTS=${RESULTS:-$BENCH/RESULTS.md}
BUILD_DIR=${BUILD_DIR:-build-release}
NICE=(nice -n "${BENCH_NICE:-10}")

PORT_BACKEND=${PORT_BACKEND:-19100}
PORT_BASE=${PORT_BASE:-19440}   # contenders listen on PORT_BASE, +1, +2, ...
HOST=localhost   # the namespace: wrk takes SNI and Host from its URL, so a name that resolves
MAILBOX=bench@corp.test
MAPI_PATH="/mapi/emsmdb/?MailboxId=$MAILBOX"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "error: $*"; exit 1; }

# --- processes: every PID we start is recorded and stopped on exit ---------------------------
declare -A STARTED=()   # pid -> label
RUN=""

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 5 s; reaps it when it is our child
  local pid=$1 i kids
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; unset "STARTED[$pid]"; return 0; }
  kids=$(children_of "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    # mapigate drains on the first signal; a second one ends the drain
    [ "$i" = 20 ] && kill -TERM "$pid" 2>/dev/null || true
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for k in $kids; do   # nginx workers leave with their master; make sure of it
    kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null || true
  done
  unset "STARTED[$pid]"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${!STARTED[@]}"; do stop_pid "$pid"; done
  if [ -n "$RUN" ] && [ -d "$RUN" ]; then
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "temporary files kept in $RUN"
    else rm -rf "$RUN"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "SIGINT received"; exit 130' INT
trap 'log "SIGTERM received"; exit 143' TERM

start_bg() {  # start_bg LABEL OUTFILE CMD...: starts CMD niced in the background, sets BG_PID
  local label=$1 out=$2; shift 2
  "${NICE[@]}" "$@" >"$out" 2>&1 &
  BG_PID=$!
  STARTED[$BG_PID]=$label
}

run_fg() {  # run_fg OUTFILE TIMEOUT_S CMD...: runs CMD niced, bounded, output to OUTFILE
  local out=$1 limit=$2; shift 2
  "${NICE[@]}" timeout -k 5 "$limit" "$@" >"$out" 2>&1 &
  local pid=$!
  STARTED[$pid]=fg
  local rc=0
  wait "$pid" || rc=$?
  unset "STARTED[$pid]"
  return "$rc"
}

children_of() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }

proc_tree() {  # the process and its children (nginx: master + workers)
  echo "$1"
  children_of "$1"
}

rss_kib() {  # sum of VmRSS over PIDS
  local sum=0 v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

cpu_ticks() {  # "user system": utime and stime (clock ticks) summed over PIDS, threads included
  local user=0 sys=0 stat rest
  for p in "$@"; do
    stat=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    rest=${stat##*) }
    # fields after "comm)": state(3) ... utime(14) stime(15) -> positions 12 and 13 here
    set -- $rest
    user=$((user + ${12})) sys=$((sys + ${13}))
  done
  echo "$user $sys"
}
ticks_between() {  # ticks_between "U0 S0" "U1 S1" [user|sys]: ticks spent (both by default)
  local a=($1) b=($2)
  case ${3:-both} in
    user) echo $((b[0] - a[0])) ;;
    sys) echo $((b[1] - a[1])) ;;
    *) echo $((b[0] - a[0] + b[1] - a[1])) ;;
  esac
}

# Pinning (PIN=1): the proxy alone on the last core, everything else on the others.
PIN_PROXY=() PIN_LOAD=()
if [ "$PIN" = 1 ]; then
  last=$(( $(nproc) - 1 ))
  [ "$last" -ge 1 ] || { echo "PIN=1 needs at least 2 cores" >&2; exit 1; }
  PIN_PROXY=(taskset -c "$last") PIN_LOAD=(taskset -c "0-$((last - 1))")
fi

# Host steadiness: a fixed CPU-bound job (SHA-256 of 128 MiB of zeros, on the proxy's core when
# pinned), timed before the first round and after each. Its work never changes, so its user time
# moves only with the host: a neighbour on a shared VM, clock changes. When it moves, every
# contender's CPU per request moves with it (RESULTS.md 2026-12-08 00:01: 1.7 times yesterday's
# figures for every proxy, while a fixed loop's time varied by 0.49-0.92 s). The spread is
# printed with the results, so a disturbed run says so itself.
STEADY=()
steady_probe() {
  local t
  t=$({ TIMEFORMAT=%U; time "${PIN_PROXY[@]}" sh -c 'head -c 128M /dev/zero | sha256sum >/dev/null'; } 2>&1)
  STEADY+=("$t")
}
# "MIN-MAX s (spread P %)" of the probes so far.
steady_summary() {
  printf '%s\n' "${STEADY[@]}" | sort -n | awk '
    { v[NR] = $1 }
    END { if (NR == 0 || v[1] <= 0) { print "not measured"; exit }
          printf "%.2f-%.2f s (spread %.0f %%)", v[1], v[NR], (v[NR] - v[1]) * 100 / v[1] }'
}

# System calls of PIDS while a measurement runs (perf stat on the raw_syscalls tracepoint, for
# as long as the load generator runs): syscalls_start SECONDS PIDS... starts counting,
# syscalls_stop waits for it and sets SC_COUNT ("" when unavailable). Not in a $(...): a
# subshell cannot wait for the counter.
SC_PID="" SC_OUT=""
syscalls_start() {
  local secs=$1; shift
  SC_PID=""
  [ "$SYSCALLS" = 1 ] && command -v perf >/dev/null || return 0
  SC_OUT=$RUN/perf-stat.out
  perf stat -x, -e raw_syscalls:sys_enter -p "$(echo "$@" | tr ' ' ',')" -o "$SC_OUT" \
    -- sleep "$secs" &
  SC_PID=$!
  STARTED[$SC_PID]=perf
}
SC_COUNT=""
syscalls_stop() {
  SC_COUNT=""
  [ -n "$SC_PID" ] || return 0
  wait "$SC_PID" 2>/dev/null || true
  unset "STARTED[$SC_PID]"; SC_PID=""
  SC_COUNT=$(awk -F, '/raw_syscalls:sys_enter/ && $1 ~ /^[0-9]+$/ { print $1 }' "$SC_OUT" 2>/dev/null)
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

SECONDS_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - SECONDS_START )); }

# --- install and build ------------------------------------------------------------------------
daemon_pid() {  # the live PID in a pid file, or nothing
  local pid
  pid=$(head -n1 "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}
if [ "$INSTALL" = 1 ]; then
  log "installing what is missing (Debian packages)"
  declare -A daemon_before=()
  for pidfile in /run/nginx.pid /run/haproxy.pid; do daemon_before[$pidfile]=$(daemon_pid "$pidfile"); done
  scripts/install-deps.sh haproxy nginx wrk nghttp2-client
  # Installing nginx or haproxy may start the packaged daemon (where invoke-rc.d allows it): stop
  # it by the PID in its pid file, so that only our own processes listen. A daemon that was
  # already running before is not ours to stop and is left alone.
  for pidfile in /run/nginx.pid /run/haproxy.pid; do
    pid=$(daemon_pid "$pidfile")
    if [ -n "$pid" ] && [ "$pid" != "${daemon_before[$pidfile]}" ]; then
      log "stopping the daemon the package just started: PID $pid ($pidfile)"
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
fi
getent ahostsv4 "$HOST" | grep -q '^127\.0\.0\.1 ' || fail "$HOST does not resolve to 127.0.0.1 (see /etc/hosts)"
for tool in haproxy nginx wrk h2load cc curl openssl; do
  command -v "$tool" >/dev/null || fail "$tool not found (run without INSTALL=0)"
done

if [ "$BUILD" = 1 ]; then
  log "building mapigate (Release, -j$BUILD_JOBS) in $BUILD_DIR"
  "${NICE[@]}" cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMAPIGATE_TESTS=OFF >/dev/null
  "${NICE[@]}" cmake --build "$BUILD_DIR" -j "$BUILD_JOBS" --target mapigate >/dev/null
fi
MAPIGATE=$ROOT/$BUILD_DIR/bin/mapigate
[ -x "$MAPIGATE" ] || fail "$MAPIGATE missing (run with BUILD=1)"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = Release ] || log "warning: $BUILD_DIR is a '$build_type' build, not Release"

RUN=$(mktemp -d /tmp/mapigate-bench.XXXXXX)
log "work directory $RUN"
"${NICE[@]}" cc -O2 -Wall -o "$RUN/mapi-responder" "$BENCH/tools/mapi-responder.c"
"${NICE[@]}" cc -O2 -Wall -o "$RUN/mapiload" "$BENCH/tools/mapiload.c" -lssl -lcrypto

ulimit -c 0   # a crashing proxy leaves no core file in the repository
# Descriptors: thousands of held connections, on each side.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 200000 ]; then ulimit -n 200000; else ulimit -n "$hard"; fi
need=$(( IDLE_CONNS > LONGPOLLS * 2 ? IDLE_CONNS : LONGPOLLS * 2 ))
# Besides the connections a proxy needs a few dozen descriptors (listeners, epoll, timers, logs).
[ "$(ulimit -n)" -gt $((need + 100)) ] || fail "open-file limit $(ulimit -n) too low for $need connections"

# --- certificate (the same for every proxy) ---------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj '/CN=mapigate bench CA' -keyout "$RUN/ca.key" -out "$RUN/ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$HOST" \
  -keyout "$RUN/server.key" -out "$RUN/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >"$RUN/server.ext"
openssl x509 -req -days 30 -in "$RUN/server.csr" -CA "$RUN/ca.pem" -CAkey "$RUN/ca.key" \
  -CAcreateserial -out "$RUN/server.pem" -extfile "$RUN/server.ext" 2>/dev/null
cat "$RUN/server.pem" "$RUN/server.key" >"$RUN/server-haproxy.pem"
head -c 1024 /dev/zero | tr '\0' x >"$RUN/body1k"

# --- contenders -------------------------------------------------------------------------------
render() {  # render TEMPLATE OUT KEY=VALUE...
  local tpl=$1 out=$2 text; shift 2
  text=$(cat "$tpl")
  for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
  printf '%s\n' "$text" >"$out"
}

# HTTP/2 on mapigate: offered as soon as its configuration accepts ALPN h2.
render "$BENCH/conf/mapigate.yaml.in" "$RUN/h2probe.yaml" WORKERS="$WORKERS" PORT=0 \
  CERT="$RUN/server.pem" KEY="$RUN/server.key" ALPN="[h2, http/1.1]" \
  BACKEND_PORT="$PORT_BACKEND" LOGS=""
if "$MAPIGATE" check -c "$RUN/h2probe.yaml" >"$RUN/h2probe.out" 2>&1; then
  MAPIGATE_H2=1 MAPIGATE_ALPN="[h2, http/1.1]"
else
  MAPIGATE_H2=0 MAPIGATE_ALPN="[http/1.1]"
  log "mapigate does not accept ALPN h2 ($(grep -m1 -o 'alpn.*' "$RUN/h2probe.out" || echo rejected)): h2 is n/a for it"
fi

CONTENDERS=(mapigate)
[ -n "$BASELINE" ] && CONTENDERS+=(mapigate-before)
[ "$MAPIGATE_LOGS" = 1 ] && CONTENDERS+=(mapigate+logs)
CONTENDERS+=(haproxy nginx)
if [ -n "$BASELINE" ]; then
  [ -x "$BASELINE" ] || fail "BASELINE=$BASELINE is not an executable"
fi
binary_of() { if [ "$1" = mapigate-before ]; then echo "$BASELINE"; else echo "$MAPIGATE"; fi; }
declare -A PORT=()
i=0
for c in "${CONTENDERS[@]}"; do PORT[$c]=$((PORT_BASE + i)); i=$((i + 1)); done
for p in "$PORT_BACKEND" "${PORT[@]}"; do port_free "$p" || fail "port $p is in use (set PORT_BASE/PORT_BACKEND)"; done

for c in "${CONTENDERS[@]}"; do
  case $c in
    mapigate|mapigate+logs|mapigate-before)
      logs=""
      [ "$c" = mapigate+logs ] && logs=$'logs:\n  directory: '"$RUN/logs"
      render "$BENCH/conf/mapigate.yaml.in" "$RUN/$c.yaml" WORKERS="$WORKERS" PORT="${PORT[$c]}" \
        CERT="$RUN/server.pem" KEY="$RUN/server.key" ALPN="$MAPIGATE_ALPN" \
        BACKEND_PORT="$PORT_BACKEND" LOGS="$logs"
      "$(binary_of "$c")" check -c "$RUN/$c.yaml" >"$RUN/$c.check" 2>&1 || { cat "$RUN/$c.check" >&2; fail "$c check failed"; }
      ;;
    haproxy)
      render "$BENCH/conf/haproxy.cfg.in" "$RUN/haproxy.cfg" WORKERS="$WORKERS" PORT="${PORT[$c]}" \
        PEM="$RUN/server-haproxy.pem" ALPN="h2,http/1.1" BACKEND_PORT="$PORT_BACKEND" \
        HAPROXY_REUSE="$HAPROXY_REUSE" MAXCONN=$(( ($(ulimit -n) - 200) / 2 ))
      haproxy -c -q -f "$RUN/haproxy.cfg" || fail "haproxy -c failed"
      ;;
    nginx)
      mkdir -p "$RUN/nginx"
      render "$BENCH/conf/nginx.conf.in" "$RUN/nginx.conf" WORKERS="$WORKERS" PORT="${PORT[$c]}" \
        CERT="$RUN/server.pem" KEY="$RUN/server.key" BACKEND_PORT="$PORT_BACKEND" RUN="$RUN/nginx" \
        NGINX_HTTP2=http2 NOFILE="$(ulimit -n)"
      nginx -t -q -p "$RUN/nginx" -c "$RUN/nginx.conf" 2>"$RUN/nginx-t.out" || { cat "$RUN/nginx-t.out" >&2; fail "nginx -t failed"; }
      ;;
  esac
done

offers_h2() { [[ $1 != mapigate* ]] || [ "$MAPIGATE_H2" = 1 ]; }

PROXY_PID=""
start_proxy() {  # start_proxy CONTENDER: starts it and waits until a MAPI Execute passes
  local c=$1
  case $c in
    mapigate|mapigate+logs|mapigate-before)
      start_bg "$c" "$RUN/$c.out" "${PIN_PROXY[@]}" "$(binary_of "$c")" run -c "$RUN/$c.yaml" ;;
    haproxy) start_bg haproxy "$RUN/haproxy.out" "${PIN_PROXY[@]}" haproxy -db -f "$RUN/haproxy.cfg" ;;
    nginx) start_bg nginx "$RUN/nginx.out" "${PIN_PROXY[@]}" nginx -p "$RUN/nginx" -c "$RUN/nginx.conf" ;;
  esac
  PROXY_PID=$BG_PID
  local i
  for i in $(seq 1 100); do
    kill -0 "$PROXY_PID" 2>/dev/null || { tail -n 20 "$RUN/${c}.out" >&2; fail "$c exited at start"; }
    if execute_once "${PORT[$c]}" "$RUN/sanity.body" >"$RUN/sanity.code" 2>/dev/null; then break; fi
    sleep 0.1
  done
  local code size
  code=$(cat "$RUN/sanity.code" 2>/dev/null || true)
  size=$(cat "$RUN/sanity.body" 2>/dev/null | wc -c)
  [ "$code" = 200 ] || fail "$c: MAPI Execute through it answered '$code'"
  # Same decoded body size as straight from the backend (same chunks, same body).
  [ "$size" = "$DIRECT_SIZE" ] || fail "$c: response body $size bytes, backend sends $DIRECT_SIZE"
}

stop_proxy() { [ -n "$PROXY_PID" ] && stop_pid "$PROXY_PID"; PROXY_PID=""; }

execute_once() {  # execute_once PORT BODYFILE: prints the HTTP status
  curl -sS --http1.1 --max-time 5 --cacert "$RUN/ca.pem" --resolve "$HOST:$1:127.0.0.1" \
    -H 'Content-Type: application/mapi-http' -H 'X-RequestType: Execute' \
    -H 'X-RequestId: {E2EA6C1C-AA73-4A7D-B1B4-3F5F2C1D8E01}:1' \
    -H 'X-ClientInfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1' \
    --data-binary @"$RUN/body1k" -o "$2" -w '%{http_code}' "https://$HOST:$1$MAPI_PATH"
}

backend_stat() {  # backend_stat KEY: a counter of the responder
  curl -sS --max-time 5 "http://127.0.0.1:$PORT_BACKEND/__stats" |
    sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# --- the backend ------------------------------------------------------------------------------
start_bg responder "$RUN/responder.out" "${PIN_LOAD[@]}" "$RUN/mapi-responder" --listen "127.0.0.1:$PORT_BACKEND" \
  --body-bytes 4096 --pending-period 15000 --wait 600000
RESPONDER_PID=$BG_PID
for _ in $(seq 1 50); do port_free "$PORT_BACKEND" || break; sleep 0.1; done
DIRECT_SIZE=$(curl -sS --max-time 5 -H 'X-RequestType: Execute' -H 'X-RequestId: {x}:1' \
  --data-binary @"$RUN/body1k" "http://127.0.0.1:$PORT_BACKEND$MAPI_PATH" | wc -c)
[ "$DIRECT_SIZE" -gt 4096 ] || fail "the responder does not answer"

# --- measurements -----------------------------------------------------------------------------
DATA=$RUN/data.tsv   # workload, metric, contender, round, value
: >"$DATA"
MEAS=$RUN/measurement.tsv   # the current measurement's rows, moved to DATA once it is over
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$MEAS"; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" "$2" | head -n1; }
CLK_TCK=$(getconf CLK_TCK)
cpu_per_req() {  # cpu_per_req TICKS REQUESTS -> microseconds of proxy CPU per request
  awk -v t="$1" -v r="$2" -v hz="$CLK_TCK" 'BEGIN { if (r > 0) printf "%.1f", t / hz / r * 1e6; else print "" }'
}
per_k() { awk -v a="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.1f", a / r * 1000 }'; }  # per 1000 requests
cpu_pct() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN { if (s > 0) printf "%.0f", t / hz / s * 100 }'; }

w_h1() {  # HTTP/1.1 keep-alive MAPI Execute: wrk, CONNS connections
  local c=$1 r=$2 port=${PORT[$1]} out=$RUN/h1-$c-$r.out t0 t1 pids a0
  run_fg "$RUN/warmup.out" 30 wrk -t "$LOADGEN_THREADS" -c "$CONNS" -d "${WARMUP}s" \
    -s "$BENCH/tools/execute.lua" "https://$HOST:$port$MAPI_PATH" || true
  pids=$(proc_tree "$PROXY_PID")
  a0=$(backend_stat accepted)
  t0=$(cpu_ticks $pids)
  run_fg "$out" $((DURATION + 30)) "${PIN_LOAD[@]}" wrk -t "$LOADGEN_THREADS" -c "$CONNS" -d "${DURATION}s" \
    --timeout 10s -s "$BENCH/tools/execute.lua" "https://$HOST:$port$MAPI_PATH" ||
    { log "$c: wrk failed: $(tail -n 3 "$out" | tr '\n' ' ')"; return 0; }
  t1=$(cpu_ticks $pids)
  local req secs calls
  # System calls are counted in a short run of their own: while the tracepoint is on, every
  # system call on the machine takes the slow path, which would skew the figures above.
  if syscalls_start "$SYSCALL_SECONDS" $pids; [ -n "$SC_PID" ]; then
    run_fg "$out.sc" $((SYSCALL_SECONDS + 30)) "${PIN_LOAD[@]}" wrk -t "$LOADGEN_THREADS" \
      -c "$CONNS" -d "${SYSCALL_SECONDS}s" --timeout 10s -s "$BENCH/tools/execute.lua" \
      "https://$HOST:$port$MAPI_PATH" || true
    syscalls_stop
    calls=$(awk -v a="$SC_COUNT" -v n="$(field requests "$out.sc")" \
      'BEGIN { if (a != "" && n > 0) printf "%.2f", a / n }')
  fi
  req=$(field requests "$out"); secs=$(field seconds "$out")
  record h1 rps "$c" "$r" "$(field rps "$out")"
  record h1 p99 "$c" "$r" "$(field p99_ms "$out")"
  record h1 cpu_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1")" "$req")"
  record h1 user_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1" user)" "$req")"
  record h1 sys_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1" sys)" "$req")"
  [ -n "$calls" ] && record h1 syscalls "$c" "$r" "$calls"
  record h1 cpu_pct "$c" "$r" "$(cpu_pct "$(ticks_between "$t0" "$t1")" "$secs")"
  record h1 errors "$c" "$r" "$(field errors "$out")"
  record h1 upstream_conns "$c" "$r" "$(per_k $(( $(backend_stat accepted) - a0 - 1 )) "$req")"
}

w_h2() {  # HTTP/2 (ALPN h2): h2load, CONNS connections, one stream each
  local c=$1 r=$2 port=${PORT[$1]} out=$RUN/h2-$c-$r.out t0 t1 pids
  if ! offers_h2 "$c"; then
    for m in rps cpu_us cpu_pct errors; do record h2 "$m" "$c" "$r" n/a; done
    return 0
  fi
  local args=(-c "$CONNS" -m 1 -t "$LOADGEN_THREADS" -d "$RUN/body1k"
    -H 'content-type: application/mapi-http' -H 'x-requesttype: Execute'
    -H 'x-requestid: {E2EA6C1C-AA73-4A7D-B1B4-3F5F2C1D8E01}:1'
    -H 'x-clientinfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1'
    -H 'cookie: MapiContext=bench-context; MapiSequence=bench-sequence'
    --connect-to="127.0.0.1:$port" "https://$HOST:$port$MAPI_PATH")
  run_fg "$RUN/warmup.out" 30 h2load -D "$WARMUP" "${args[@]}" || true
  pids=$(proc_tree "$PROXY_PID")
  t0=$(cpu_ticks $pids)
  run_fg "$out" $((DURATION + 30)) "${PIN_LOAD[@]}" h2load -D "$DURATION" "${args[@]}" ||
    { log "$c: h2load failed: $(tail -n 3 "$out" | tr '\n' ' ')"; return 0; }
  t1=$(cpu_ticks $pids)
  local calls=""
  if syscalls_start "$SYSCALL_SECONDS" $pids; [ -n "$SC_PID" ]; then  # as in w_h1
    run_fg "$out.sc" $((SYSCALL_SECONDS + 30)) "${PIN_LOAD[@]}" h2load -D "$SYSCALL_SECONDS" \
      "${args[@]}" || true
    syscalls_stop
    calls=$(awk -v a="$SC_COUNT" -v n="$(sed -n 's/^requests: .* \([0-9]*\) done.*/\1/p' "$out.sc")" \
      'BEGIN { if (a != "" && n > 0) printf "%.2f", a / n }')
  fi
  grep -q 'Application protocol: h2' "$out" || { log "$c: h2 not negotiated"; return 0; }
  local done_n rps secs errors
  done_n=$(sed -n 's/^requests: .* \([0-9]*\) done.*/\1/p' "$out")
  # failed + errored + timeout requests, and 4xx/5xx answers
  errors=$(awk '/^requests:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^(failed|errored|timeout)/) e += $i }
                /^status codes:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^(4xx|5xx)/) e += $i }
                END { print e + 0 }' "$out")
  # nothing completed at all (e.g. streams never answered): every started request failed
  if [ "${done_n:-0}" = 0 ]; then
    errors=$((errors + $(sed -n 's/^requests: .* \([0-9]*\) started.*/\1/p' "$out")))
  fi
  rps=$(sed -n 's/^finished in \([0-9.]*\)s, \([0-9.]*\) req\/s.*/\2/p' "$out")
  secs=$(sed -n 's/^finished in \([0-9.]*\)s.*/\1/p' "$out")
  record h2 rps "$c" "$r" "$rps"
  record h2 cpu_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1")" "$done_n")"
  record h2 user_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1" user)" "$done_n")"
  record h2 sys_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1" sys)" "$done_n")"
  [ -n "$calls" ] && record h2 syscalls "$c" "$r" "$calls"
  record h2 cpu_pct "$c" "$r" "$(cpu_pct "$(ticks_between "$t0" "$t1")" "$secs")"
  record h2 errors "$c" "$r" "$errors"
}

w_newconn() {  # a new TLS connection per request, resuming the session ticket of the previous one
  local c=$1 r=$2 port=${PORT[$1]} out=$RUN/newconn-$c-$r.out t0 t1 pids a0
  pids=$(proc_tree "$PROXY_PID")
  a0=$(backend_stat accepted)
  t0=$(cpu_ticks $pids)
  run_fg "$out" $((DURATION + 30)) "${PIN_LOAD[@]}" "$RUN/mapiload" newconn --connect "127.0.0.1:$port" \
    --host "$HOST" --mailbox "$MAILBOX" -c "$NEWCONN_CLIENTS" -d "$DURATION" --resume ||
    { log "$c: mapiload newconn failed: $(tail -n 3 "$out" | tr '\n' ' ')"; return 0; }
  t1=$(cpu_ticks $pids)
  record newconn rps "$c" "$r" "$(field rps "$out")"
  record newconn p99 "$c" "$r" "$(field p99_ms "$out")"
  record newconn cpu_us "$c" "$r" "$(cpu_per_req "$(ticks_between "$t0" "$t1")" "$(field requests "$out")")"
  record newconn cpu_pct "$c" "$r" "$(cpu_pct "$(ticks_between "$t0" "$t1")" "$(field seconds "$out")")"
  record newconn errors "$c" "$r" "$(field errors "$out")"
  record newconn resumed_pct "$c" "$r" "$(awk -v a="$(field resumed "$out")" -v n="$(field requests "$out")" 'BEGIN { if (n > 0) printf "%.0f", a / n * 100 }')"
  record newconn upstream_conns "$c" "$r" "$(per_k $(( $(backend_stat accepted) - a0 - 1 )) "$(field requests "$out")")"
}

hold_open() {  # hold_open PORT N [--notification-wait]: starts mapiload hold, waits for READY
  local port=$1 n=$2; shift 2
  start_bg hold "$RUN/hold.out" "${PIN_LOAD[@]}" "$RUN/mapiload" hold --connect "127.0.0.1:$port" --host "$HOST" \
    --mailbox "$MAILBOX" -n "$n" "$@"
  HOLD_PID=$BG_PID
  local i
  for i in $(seq 1 1200); do
    grep -q '^READY' "$RUN/hold.out" 2>/dev/null && return 0
    kill -0 "$HOLD_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

w_idle() {  # idle TLS connections: RSS per connection
  local c=$1 r=$2 port=${PORT[$1]} rss0 rss1 ok
  sleep 0.3
  rss0=$(rss_kib $(proc_tree "$PROXY_PID"))
  if ! hold_open "$port" "$IDLE_CONNS"; then
    log "$c: idle connections not opened"; stop_pid "$HOLD_PID"; return 0
  fi
  sleep 1
  rss1=$(rss_kib $(proc_tree "$PROXY_PID"))
  ok=$(field ok "$RUN/hold.out")
  stop_pid "$HOLD_PID"
  record idle kib_per_conn "$c" "$r" \
    "$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n }')"
  record idle opened "$c" "$r" "$ok"
}

w_longpoll() {  # held NotificationWaits: RSS per long-poll, PENDINGs relayed while all are held,
               # upstream cancelled when clients leave
  local c=$1 r=$2 port=${PORT[$1]} rss0 rss1 ok w0 w1 w2 i pend
  sleep 0.3
  w0=$(backend_stat waits_open)
  rss0=$(rss_kib $(proc_tree "$PROXY_PID"))
  if ! hold_open "$port" "$LONGPOLLS" --notification-wait --pending-period "$PENDING_PERIOD" \
      --watch "$PENDING_WATCH"; then
    log "$c: long-polls not opened"; stop_pid "$HOLD_PID"; return 0
  fi
  sleep 1
  rss1=$(rss_kib $(proc_tree "$PROXY_PID"))
  w1=$(backend_stat waits_open)
  ok=$(field ok "$RUN/hold.out")
  for i in $(seq 1 $(( (PENDING_WATCH + 10) * 10 ))); do
    grep -q '^PENDING' "$RUN/hold.out" && break
    sleep 0.1
  done
  pend=$(grep '^PENDING' "$RUN/hold.out" || true)
  stop_pid "$HOLD_PID"   # every client leaves at once
  sleep 1
  w2=$(backend_stat waits_open)
  record longpoll kib_per_poll "$c" "$r" \
    "$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n }')"
  record longpoll held "$c" "$r" "$((w1 - w0))/$ok"
  record longpoll left_open "$c" "$r" "$((w2 - w0))"
  if [ -n "$pend" ]; then
    record longpoll pending_p99 "$c" "$r" "$(echo "$pend" | sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p')"
    record longpoll pending_max "$c" "$r" "$(echo "$pend" | sed -n 's/.* max_ms=\([0-9.]*\).*/\1/p')"
    record longpoll pending_got "$c" "$r" \
      "$(echo "$pend" | sed -n 's/.* received=\([0-9]*\) expected=\([0-9]*\).*/\1\/\2/p')"
  fi
}

declare -A METRICS=([h1]="rps p99 cpu_us user_us sys_us syscalls cpu_pct errors upstream_conns"
  [h2]="rps cpu_us user_us sys_us syscalls cpu_pct errors"
  [newconn]="rps p99 cpu_us cpu_pct errors upstream_conns resumed_pct" [idle]="kib_per_conn opened"
  [longpoll]="kib_per_poll held left_open pending_p99 pending_max pending_got")
read -r -a WORKLOADS <<<"${WORKLOADS:-h1 h2 newconn idle longpoll}"
for w in "${WORKLOADS[@]}"; do declare -F "w_$w" >/dev/null || fail "unknown workload $w"; done
log "contenders: ${CONTENDERS[*]}; ${ROUNDS} rounds; ${DURATION} s per measurement; budget ${BUDGET} s"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
steady_probe
bench_start=$(elapsed)
rounds_done=0
budget_hit=0
CRASHES=0
for r in $(seq 1 "$ROUNDS"); do
  # Each round starts with a different contender: whoever ran first in every round measured
  # about 6 % less system time per request than an identical binary right after it (an A/A
  # run, RESULTS.md 2026-12-07 12:13), so a fixed order favoured mapigate.
  ORDER=()
  for i in "${!CONTENDERS[@]}"; do
    ORDER+=("${CONTENDERS[$(( (i + r - 1) % ${#CONTENDERS[@]} ))]}")
  done
  for w in "${WORKLOADS[@]}"; do
    for c in "${ORDER[@]}"; do
      if [ $(( $(elapsed) - bench_start )) -gt "$BUDGET" ]; then budget_hit=1; break 3; fi
      log "round $r/$ROUNDS  $w  $c"
      if [ "$w" = h2 ] && ! offers_h2 "$c"; then w_h2 "$c" "$r"; continue; fi
      start_proxy "$c"
      : >"$MEAS"
      "w_$w" "$c" "$r"
      if kill -0 "$PROXY_PID" 2>/dev/null; then
        cat "$MEAS" >>"$DATA"
        stop_proxy
      else
        # The proxy died during the measurement: its figures mean nothing; say so in the table.
        rc=0; wait "$PROXY_PID" 2>/dev/null || rc=$?
        unset "STARTED[$PROXY_PID]"; PROXY_PID=""
        log "$c CRASHED during $w (exit status $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))")); its last output:"
        tail -n 5 "$RUN/$c.out" >&2 || true
        cp "$RUN/$c.out" "$RUN/$c-crash-$w-$r.out" 2>/dev/null || true
        CRASHES=$((CRASHES + 1))
        for m in ${METRICS[$w]}; do printf '%s\t%s\t%s\t%s\tcrashed\n' "$w" "$m" "$c" "$r" >>"$DATA"; done
      fi
      # the backend must not keep anything of this proxy's (pooled connections close with it)
      for _ in $(seq 1 30); do [ "$(backend_stat open)" -le 1 ] && break; sleep 0.1; done
    done
  done
  rounds_done=$r
  steady_probe
done
bench_secs=$(( $(elapsed) - bench_start ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$budget_hit" = 1 ] && log "time budget reached: stopped after $rounds_done complete rounds"
log "host steadiness (a fixed job before the rounds and after each): $(steady_summary)"
[ "$CRASHES" -gt 0 ] && log "WARNING: a proxy crashed $CRASHES time(s) during the measurements (see the table)"

# --- table ------------------------------------------------------------------------------------
# Medians per (workload, metric, contender); ratio = mapigate / best of the peers (HAProxy, nginx).
table() {
  awk -F'\t' -v contenders="${CONTENDERS[*]}" '
    BEGIN {
      n = split(contenders, C, " ")
      # workload|metric -> label, direction (+1 higher is better, -1 lower is better, 0 no ratio)
      row[1] = "h1|rps";              lab[1] = "HTTP/1.1 keep-alive Execute | req/s";                dir[1] = 1
      row[2] = "h1|p99";              lab[2] = "HTTP/1.1 keep-alive Execute | p99 latency ms";       dir[2] = -1
      row[3] = "h1|cpu_us";           lab[3] = "HTTP/1.1 keep-alive Execute | proxy CPU µs/request"; dir[3] = -1
      row[4] = "h1|cpu_pct";          lab[4] = "HTTP/1.1 keep-alive Execute | proxy CPU %";          dir[4] = 0
      row[5] = "h1|errors";           lab[5] = "HTTP/1.1 keep-alive Execute | errors";               dir[5] = 0
      row[20] = "h1|upstream_conns";  lab[20] = "HTTP/1.1 keep-alive Execute | backend connections opened per 1000 requests"; dir[20] = 0
      row[6] = "h2|rps";              lab[6] = "HTTP/2 Execute | req/s";                             dir[6] = 1
      row[7] = "h2|cpu_us";           lab[7] = "HTTP/2 Execute | proxy CPU µs/request";              dir[7] = -1
      row[8] = "h2|cpu_pct";          lab[8] = "HTTP/2 Execute | proxy CPU %";                       dir[8] = 0
      row[9] = "h2|errors";           lab[9] = "HTTP/2 Execute | errors";                            dir[9] = 0
      row[10] = "newconn|rps";        lab[10] = "new TLS connection per request | req/s";            dir[10] = 1
      row[11] = "newconn|p99";        lab[11] = "new TLS connection per request | p99 latency ms";   dir[11] = -1
      row[12] = "newconn|cpu_us";     lab[12] = "new TLS connection per request | proxy CPU µs/request"; dir[12] = -1
      row[13] = "newconn|cpu_pct";    lab[13] = "new TLS connection per request | proxy CPU %";      dir[13] = 0
      row[14] = "newconn|errors";     lab[14] = "new TLS connection per request | errors";           dir[14] = 0
      row[21] = "newconn|upstream_conns"; lab[21] = "new TLS connection per request | backend connections opened per 1000 requests"; dir[21] = 0
      row[15] = "idle|kib_per_conn";  lab[15] = "idle TLS connections | RSS KiB/connection";         dir[15] = -1
      row[16] = "idle|opened";        lab[16] = "idle TLS connections | connections opened";         dir[16] = 0
      row[17] = "longpoll|kib_per_poll"; lab[17] = "held NotificationWaits | RSS KiB/long-poll";      dir[17] = -1
      row[18] = "longpoll|held";      lab[18] = "held NotificationWaits | upstream held/opened";     dir[18] = 0
      row[19] = "longpoll|left_open"; lab[19] = "held NotificationWaits | upstream still open 1 s after clients left"; dir[19] = -1
      row[22] = "newconn|resumed_pct"; lab[22] = "new TLS connection per request | handshakes resumed %"; dir[22] = 0
      row[23] = "longpoll|pending_p99"; lab[23] = "held NotificationWaits | PENDING relay delay p99 ms (all held)"; dir[23] = -1
      row[24] = "longpoll|pending_max"; lab[24] = "held NotificationWaits | PENDING relay delay max ms"; dir[24] = -1
      row[25] = "longpoll|pending_got"; lab[25] = "held NotificationWaits | PENDINGs received/due"; dir[25] = 0
      row[26] = "h1|user_us";         lab[26] = "HTTP/1.1 keep-alive Execute | proxy user µs/request"; dir[26] = -1
      row[27] = "h1|sys_us";          lab[27] = "HTTP/1.1 keep-alive Execute | proxy system µs/request"; dir[27] = -1
      row[28] = "h1|syscalls";        lab[28] = "HTTP/1.1 keep-alive Execute | system calls/request"; dir[28] = -1
      row[29] = "h2|user_us";         lab[29] = "HTTP/2 Execute | proxy user µs/request";            dir[29] = -1
      row[30] = "h2|sys_us";          lab[30] = "HTTP/2 Execute | proxy system µs/request";          dir[30] = -1
      row[31] = "h2|syscalls";        lab[31] = "HTTP/2 Execute | system calls/request";             dir[31] = -1
      rows = 31
      # display order
      split("1 2 3 26 27 28 4 5 20 6 7 29 30 31 8 9 10 11 12 13 14 22 21 15 16 17 18 23 24 25 19", ord, " ")
    }
    {
      key = $1 "|" $2 "|" $3
      if ($5 == "crashed") { crashed[key]++; seen[key] = 1; next }
      if ($5 == "") next
      vals[key] = (nv[key]++ > 0) ? vals[key] " " $5 : $5
      seen[key] = 1
    }
    function median(s,   a, k, i, j, t, num) {
      k = split(s, a, " ")
      if (k == 0) return ""
      num = 1
      for (i = 1; i <= k; i++) if (a[i] !~ /^-?[0-9.]+$/) num = 0
      if (!num) return a[int((k + 1) / 2)]   # text (n/a, x/y): the middle round
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    function cell(key, v) {  # formatted median, with the rounds in which the proxy crashed
      v = fmt(median(vals[key]))
      if (crashed[key] > 0) v = (nv[key] > 0) ? v " (" crashed[key] "× crashed)" : "crashed"
      return v
    }
    function fmt(v) {
      if (v == "" ) return "–"
      if (v !~ /^-?[0-9.]+$/) return v
    if (v == int(v)) return sprintf("%d", v)
      if (v + 0 >= 100) return sprintf("%.0f", v)
      if (v + 0 >= 10) return sprintf("%.1f", v)
      return sprintf("%.2f", v)
    }
    END {
      hdr = "| workload | metric |"; sep = "|---|---|"
      for (i = 1; i <= n; i++) { hdr = hdr " " C[i] " |"; sep = sep "---:|" }
      for (i = 1; i <= n; i++) if (C[i] ~ /^mapigate/) { hdr = hdr " " C[i] " ÷ best peer |"; sep = sep "---:|" }
      print hdr; print sep
      for (o = 1; o <= rows; o++) {
        x = ord[o]
        split(row[x], wm, "|"); split(lab[x], lm, " \\| ")
        any = 0
        for (i = 1; i <= n; i++) if ((wm[1] "|" wm[2] "|" C[i]) in seen) any = 1
        if (!any) continue   # workload not run
        line = "| " lm[1] " | " lm[2] " |"
        best = ""
        for (i = 1; i <= n; i++) {
          m[i] = median(vals[wm[1] "|" wm[2] "|" C[i]])
          line = line " " cell(wm[1] "|" wm[2] "|" C[i]) " |"
          if (C[i] !~ /^mapigate/ && m[i] ~ /^-?[0-9.]+$/) {
            if (best == "" || (dir[x] > 0 && m[i] + 0 > best + 0) || (dir[x] < 0 && m[i] + 0 < best + 0)) best = m[i]
          }
        }
        for (i = 1; i <= n; i++) if (C[i] ~ /^mapigate/) {
          if (dir[x] == 0 || best == "" || m[i] !~ /^-?[0-9.]+$/) ratio = (m[i] == "n/a") ? "n/a" : "–"
          else if (best + 0 == 0) ratio = (m[i] + 0 == 0) ? "=" : "worse"
          else ratio = sprintf("%.2f", m[i] / best)
          line = line " " ratio " |"
        }
        print line
      }
    }' "$DATA"
}

raw_table() {  # every round, for the record
  awk -F'\t' '{ key = $1 " " $2 " " $3; v[key] = (cnt[key]++ > 0) ? v[key] " / " $5 : $5; if (cnt[key] == 1) order[++n] = key }
    END { print "| workload metric contender | rounds |"; print "|---|---|"; for (i = 1; i <= n; i++) print "| " order[i] " | " v[order[i]] " |" }' "$DATA"
}

TABLE=$(table)
printf '\n%s\n\n' "$TABLE"
log "measuring took ${bench_secs} s"

if [ "$RESULTS" != - ]; then
  mode=full; [ "$QUICK" = 1 ] && mode=QUICK
  cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  if [ ! -s "$RESULTS" ]; then
    printf '# mapigate benchmark results\n\nOne section per run of `bench/run.sh`, newest last. How to read them: bench/README.md.\n' >"$RESULTS"
  fi
  {
    printf '\n## %s — %s run\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$mode"
    printf -- '- machine: `%s`\n' "$(uname -a)"
    printf -- '- CPU: %s, %s cores online; memory %s; load average %s before, %s after (the measurements include it)\n' \
      "$cpu_model" "$(nproc)" "$mem" "$load_before" "$load_after"
    printf -- '- host steadiness: a fixed CPU-bound job (SHA-256 of 128 MiB) took %s of user time before the rounds and after each; a spread above 10 %% means the host moved during the run, and the timed figures with it\n' \
      "$(steady_summary)"
    [ -n "$BASELINE" ] && printf -- '- mapigate-before: `%s` (%s)\n' "$BASELINE" "$("$BASELINE" version 2>&1 | head -n1)"
    [ "$PIN" = 1 ] && printf -- '- pinned: every proxy on core %s (`%s`), load generator and backend on the others (`%s`)\n' "${PIN_PROXY[2]}" "${PIN_PROXY[*]}" "${PIN_LOAD[*]}"
    printf -- '- mapigate: `%s` (%s build, %s), haproxy: `%s`, nginx: `%s`\n' \
      "$("$MAPIGATE" version 2>&1 | head -n1)" "${build_type:-?}" "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo no git)" \
      "$(haproxy -v | head -n1)" "$(nginx -v 2>&1)"
    printf -- '- load: `%s`, `%s`, bench/tools/mapiload; backend bench/tools/mapi-responder; `%s`\n' \
      "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)" "$(h2load --version)" "$(openssl version)"
    printf -- '- parameters: %s rounds (%s complete), %s s per measurement (+%s s warm-up), %s connections (wrk/h2load), %s new-connection clients, %s idle connections, %s long-polls, %s workers per proxy, haproxy http-reuse %s; measuring took %s s%s\n' \
      "$ROUNDS" "$rounds_done" "$DURATION" "$WARMUP" "$CONNS" "$NEWCONN_CLIENTS" "$IDLE_CONNS" "$LONGPOLLS" "$WORKERS" "$HAPROXY_REUSE" "$bench_secs" \
      "$([ "$budget_hit" = 1 ] && echo ' (time budget reached)')$([ "$CRASHES" -gt 0 ] && echo "; a proxy crashed $CRASHES time(s): those rounds are left out of the medians and counted in the cells")"
    printf '\n%s\n\n<details><summary>every round</summary>\n\n%s\n\n</details>\n' "$TABLE" "$(raw_table)"
  } >>"$RESULTS"
  log "appended to $RESULTS"
fi
