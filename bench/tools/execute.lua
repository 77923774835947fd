-- wrk script: MAPI Execute, a 1 KiB POST body, the headers Outlook sends (bench/run.sh).
wrk.method = "POST"
wrk.path = "/mapi/emsmdb/?MailboxId=bench@corp.test"
wrk.body = string.rep("x", 1024)
wrk.headers["User-Agent"] = "Microsoft Office/16.0 (Windows NT 10.0; wrk)"
wrk.headers["Content-Type"] = "application/mapi-http"
wrk.headers["X-RequestType"] = "Execute"
wrk.headers["X-RequestId"] = "{E2EA6C1C-AA73-4A7D-B1B4-3F5F2C1D8E01}:1"
wrk.headers["X-ClientInfo"] = "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1"
wrk.headers["X-ClientApplication"] = "Outlook/16.0.17928.20114"
wrk.headers["Cookie"] = "MapiContext=bench-context; MapiSequence=bench-sequence"

-- One machine-readable line for bench/run.sh.
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
               + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, errors, summary.errors.status, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
