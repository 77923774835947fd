// A request's life on its connection: its trace started and finished; escaped exceptions.
#include "proxy/request/context.hpp"

#include "metrics/registry.hpp"
#include "proxy/io/log.hpp"

namespace proxy {

request_ctx::request_ctx(conn_ctx& c) : conn(c) {
  trace.rec.date_time = std::chrono::system_clock::now();
  trace.rec.client_ip = conn.client_ip;
  trace.rec.server_host_name = conn.rt->cfg->server_name;
  trace.rec.protocol = "Unknown";
}

request_ctx::~request_ctx() {
  trace.finish(*conn.rt->metrics, conn.worker.access_log);
}

namespace {

const std::optional<config::duration>& vdir_idle(const request_ctx& rq) noexcept {
  const auto v = rq.decision.workload.value_or(config::vdir_id::mapi);
  return rq.conn.rt->cfg->vdirs[std::size_t(v)].idle_timeout;
}

}  // namespace

config::duration request_ctx::body_idle() const noexcept {
  return vdir_idle(*this).value_or(conn.rt->cfg->timeouts.body_idle);
}

config::duration request_ctx::upstream_idle() const noexcept {
  return vdir_idle(*this).value_or(conn.rt->cfg->timeouts.upstream_idle);
}

void on_coroutine_exit::operator()(std::exception_ptr e) const noexcept {
  if (!e) return;
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  log(log_level::error, stream ? "c" : "w", id, stream ? " HTTP/2 stream" : " connection",
      " ended by an exception: ", what);
  if (rt) rt->metrics->session_exception(stream);
}

}  // namespace proxy
