#!/usr/bin/env bash
# Installs what is missing, builds mapigate (Release) and starts the demo on 127.0.0.1:
#   - a test CA and a certificate covering both demo namespaces and an affinity key (generated on
#     first run),
#   - two simulated mailbox servers (mapigate-sim) on 127.0.0.1:9101 and :9102,
#   - mapigate on https://127.0.0.1:8443 for mail.corp.test (internal) and outlook.example.test
#     (external).
# Prints a curl command that performs a MAPI Connect through it. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build=${MAPIGATE_DEMO_BUILD_DIR:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMAPIGATE_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target mapigate mapigate-sim

run=demo-run
mkdir -p "$run/certs"
if [ ! -f "$run/certs/mapigate.pem" ] ||
   ! openssl x509 -in "$run/certs/mapigate.pem" -noout -ext subjectAltName 2>/dev/null |
     grep -q autodiscover.example.test; then
  echo "demo: generating a demo CA and a certificate for mail.corp.test, outlook.example.test" \
    "and autodiscover.example.test"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj '/CN=mapigate demo CA' -keyout "$run/certs/ca.key" -out "$run/certs/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=mail.corp.test' \
    -keyout "$run/certs/mapigate.key" -out "$run/certs/mapigate.csr" 2>/dev/null
  printf 'subjectAltName=DNS:mail.corp.test,DNS:outlook.example.test,DNS:autodiscover.example.test\nextendedKeyUsage=serverAuth\n' \
    > "$run/certs/mapigate.ext"
  openssl x509 -req -days 365 -in "$run/certs/mapigate.csr" -CA "$run/certs/ca.pem" \
    -CAkey "$run/certs/ca.key" -CAcreateserial -out "$run/certs/mapigate.pem" \
    -extfile "$run/certs/mapigate.ext" 2>/dev/null
fi

[ -f "$run/affinity.key" ] || openssl rand -hex -out "$run/affinity.key" 32
# The simulated mailbox servers' one password (NTLMv2 and Basic are checked against it), for
# the probe's monitoring user and the curl example below.
[ -f "$run/probe.password" ] || { openssl rand -hex 12 > "$run/probe.password"; chmod 600 "$run/probe.password"; }

cat > "$run/mapigate.yaml" <<YAML
# Demo configuration written by scripts/demo.sh (see deploy/mapigate.example.yaml for a real one).
version: 1
server_name: mapigate-demo.corp.test
workers: 2
listeners:
  - name: front
    address: 127.0.0.1:8443
    tls:
      certificates:
        - cert: certs/mapigate.pem
          key: certs/mapigate.key
      alpn: [h2, http/1.1]
mapi:
  internal_url: https://mail.corp.test/mapi
  external_url: https://outlook.example.test/mapi
backends:
  - name: mbx01
    address: 127.0.0.1:9101
  - name: mbx02
    address: 127.0.0.1:9102
pools:
  - name: dag1
    members: [mbx01, mbx02]
routes:
  - default: true
    pool: dag1
namespaces:
  external: [autodiscover.example.test]
vdirs:
  autodiscover:
  ews:
  oab:
  rpc:
  activesync:
  owa:
  ecp:
affinity:
  key_files: [affinity.key]
logs:
  directory: logs
admin:
  address: 127.0.0.1:9464
YAML
"$build/bin/mapigate" check -c "$run/mapigate.yaml"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$build/bin/mapigate-sim" --name mbx01 --listen 127.0.0.1:9101 --pending-period 15000 \
  --require-auth --password-file "$run/probe.password" &
pids+=($!)
"$build/bin/mapigate-sim" --name mbx02 --listen 127.0.0.1:9102 --cookie-style sid --pending-period 15000 \
  --require-auth --password-file "$run/probe.password" &
pids+=($!)
"$build/bin/mapigate" run -c "$run/mapigate.yaml" &
pids+=($!)

# Wait (bounded) until mapigate answers its own health check.
for _ in $(seq 1 50); do
  if curl -fsS --cacert "$run/certs/ca.pem" --resolve mail.corp.test:8443:127.0.0.1 \
       https://mail.corp.test:8443/mapi/healthcheck.htm >/dev/null 2>&1; then break; fi
  sleep 0.1
done

printf 'demo' > "$run/connect.bin"

# DEMO_SMOKE=1: every vdir once through mapigate (a table, then exit: 0 when all passed).
if [ "${DEMO_SMOKE:-0}" = 1 ]; then
  password=$(cat "$run/probe.password")
  failed=0
  check() {  # check NAME EXPECTED-REGEX CURL-ARGS...
    local name=$1 want=$2
    shift 2
    local got
    got=$(curl -s --max-time 3 --cacert "$run/certs/ca.pem" \
      --resolve mail.corp.test:8443:127.0.0.1 --resolve outlook.example.test:8443:127.0.0.1 \
      --resolve autodiscover.example.test:8443:127.0.0.1 "$@" 2>/dev/null || true)
    if printf '%s' "$got" | grep -Eq "$want"; then
      printf '  %-34s ok\n' "$name"
    else
      printf '  %-34s FAILED (wanted /%s/)\n' "$name" "$want"
      failed=1
    fi
  }
  ext=https://outlook.example.test:8443 int=https://mail.corp.test:8443
  ntlm=(--ntlm -u "CORP\\probe:$password")
  echo "demo smoke: every vdir through mapigate"
  for vdir in mapi Autodiscover EWS OAB rpc Microsoft-Server-ActiveSync owa; do
    check "GET /$vdir/healthcheck.htm" '^200 OK' "$ext/$vdir/healthcheck.htm"
  done
  pox='<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@corp.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>'
  check "Autodiscover (POX, NTLM)" 'Protocol Type="mapiHttp"' "${ntlm[@]}" \
    -H 'Content-Type: text/xml' -H 'X-MapiHttpCapability: 1' --data-binary "$pox" \
    https://autodiscover.example.test:8443/autodiscover/autodiscover.xml
  check "EWS (X-AnchorMailbox, NTLM)" '<ServerName>mbx0' "${ntlm[@]}" \
    -H 'X-AnchorMailbox: alice@corp.test' -H 'Content-Type: text/xml' --data-binary '<soap/>' \
    "$ext/EWS/Exchange.asmx"
  check "OAB (NTLM)" '<OAB>' "${ntlm[@]}" "$ext/OAB/00000000-0000-0000-0000-000000000001/oab.xml"
  check "ActiveSync OPTIONS (Basic)" '^200$' -o /dev/null -w '%{http_code}' --basic \
    -u "CORP\\probe:$password" -X OPTIONS "$ext/Microsoft-Server-ActiveSync?User=probe"
  check "OWA (forms)" 'owa on mbx0' "$ext/owa/"
  check "ECP inside" 'ecp on mbx0' "$int/ecp/"
  check "ECP outside is 404" '^404$' -o /dev/null -w '%{http_code}' "$ext/ecp/"
  head -c 76 /dev/zero | tr '\0' 'c' > "$run/rpc-out.bin"
  check "Outlook Anywhere RPC_OUT_DATA" 'Content-Length: 1073741824' -D - -o /dev/null \
    --max-time 2 "${ntlm[@]}" -X RPC_OUT_DATA -H 'Content-Type: application/rpc' \
    --data-binary @"$run/rpc-out.bin" "$ext/rpc/rpcproxy.dll?alice@corp.test:6001"
  if "$build/bin/mapigate" probe https://mail.corp.test:8443/mapi --connect 127.0.0.1 \
       --ca "$run/certs/ca.pem" --user 'CORP\probe' --password-file "$run/probe.password" \
       >/dev/null; then
    printf '  %-34s ok\n' "mapigate probe"
  else
    printf '  %-34s FAILED\n' "mapigate probe"
    failed=1
  fi
  exit "$failed"
fi

cat <<TXT

mapigate demo is running on https://127.0.0.1:8443 (Ctrl-C stops it and both mailbox servers).
A MAPI Connect through the external namespace, logged on with NTLM (password in $run/probe.password):

  curl -i --ntlm -u "CORP\\\\probe:\$(cat $run/probe.password)" \\
    --cacert $run/certs/ca.pem --resolve outlook.example.test:8443:127.0.0.1 \\
    -H 'Content-Type: application/mapi-http' -H 'X-RequestType: Connect' \\
    -H 'X-RequestId: {C715155F-2BE8-44E0-BD34-2960065754C8}:1' \\
    -H 'X-ClientInfo: {2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1' \\
    --data-binary @$run/connect.bin \\
    'https://outlook.example.test:8443/mapi/emsmdb/?MailboxId=416c6368-656d-794a-6f45-57615272456e@corp.test'

The Test-OutlookConnectivity-style probe (health check, 401 offer, NTLM logon, Connect/PING/Disconnect):

  $build/bin/mapigate probe https://mail.corp.test:8443/mapi --connect 127.0.0.1 --ca $run/certs/ca.pem \\
    --user 'CORP\\probe' --password-file $run/probe.password

HttpProxy logs: $run/logs/HttpProxy/Mapi/   Prometheus metrics: curl -s http://127.0.0.1:9464/metrics

The health check a load balancer would use:

  curl --cacert $run/certs/ca.pem --resolve mail.corp.test:8443:127.0.0.1 https://mail.corp.test:8443/mapi/healthcheck.htm

TXT
wait "${pids[2]}"
