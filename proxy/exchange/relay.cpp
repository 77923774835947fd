// The parts of an exchange that do not depend on the codec.
#include "proxy/exchange/relay.hpp"

#include "metrics/registry.hpp"

namespace proxy::exchange_detail {

awaitable<upstream_ptr> connect_counted(request_ctx& rq, std::size_t b) {
  auto& rt = *rq.conn.rt;
  error_code ec;
  const auto started = request_trace::clock::now();
  auto candidate = co_await connect_upstream(rt, b, ec);
  const auto took = request_trace::clock::now() - started;
  if (!candidate) {
    const auto& name = rt.cfg->backends[b].name;
    log(log_level::warn, "c", rq.conn.id, " backend ", name, " connect: ", ec.message());
    rt.metrics->upstream_connect_failed(b);
    note_failure(rt, b, true);
    rq.trace.add_error("BackendConnectFailed: " + name + " " + ec.message());
    co_return nullptr;
  }
  rt.metrics->upstream_connected(b, std::chrono::duration<double>(took).count());
  rq.trace.rec.backend_connect = std::chrono::duration_cast<std::chrono::milliseconds>(took);
  co_return candidate;
}

bool note_response_head(request_ctx& rq, std::size_t b, const upstream_parser& parser,
                        request_trace::clock::time_point sent_at,
                        request_trace::clock::time_point head_at) {
  auto& rt = *rq.conn.rt;
  auto& trace = rq.trace;
  const auto& res = parser.get();
  const unsigned code = res.result_int();
  trace.rec.backend_status = int(code);
  accept_credentials(trace, int(code), rq.conn);
  trace.rec.time_to_first_byte = request_trace::since(sent_at, head_at);
  rt.metrics->first_byte(b, std::chrono::duration<double>(head_at - sent_at).count());
  if (code >= 500)
    note_failure(rt, b);
  else
    rt.live[b].record_success();
  if (auto it = res.find("X-ResponseCode"); it != res.end()) {
    trace.mapi_code = metrics::parse_mapi_code(it->value());
    trace.add_info("X-ResponseCode", std::string(it->value()));
  }
  return !(code == 204 || code == 304) && !parser.is_done();
}

void note_tls_use(tls_buffer_keeper& keeper, tls_conn* client, upstream_conn& upstream, bool held) {
  for (tls_conn* t : {client, std::get_if<tls_conn>(&upstream.stream)}) {
    if (!t) continue;
    if (held)
      t->quiet(keeper);
    else
      t->request_started(keeper);
  }
}

void settle_connection(request_ctx& rq, upstream_ptr upstream, bool reusable, bool binds) {
  auto& conn = rq.conn;
  ++upstream->requests;
  if (upstream->buffer.size() == 0)
    give_spare(conn.worker.spares, upstream->buffer);  // idle: no buffer held
  conn.auth_bound = conn.auth_bound || binds;
  if (conn.auth_bound) rq.trace.add_info("Pinned", "true");
  if (!reusable || conn.worker.draining)
    upstream->abort();
  else if (conn.auth_bound)
    conn.pinned.put(std::move(upstream));
  else
    conn.worker.pool.give_back(std::move(upstream));
}

}  // namespace proxy::exchange_detail
