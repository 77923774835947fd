// The data plane's owner: runtime, workers, listeners, signal-driven stop.
#include "proxy/server.hpp"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <boost/version.hpp>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "accesslog/format.hpp"
#include "accesslog/writer.hpp"
#include "config/loader.hpp"
#include "mapigate/version.hpp"
#include "metrics/registry.hpp"
#include "proxy/admin/admin.hpp"
#include "proxy/io/log.hpp"
#include "proxy/request/facts.hpp"
#include "proxy/sd_notify.hpp"
#include "proxy/state/runtime.hpp"
#include "proxy/upstream/health_checker.hpp"
#include "proxy/worker.hpp"
#include "routing/text.hpp"
#include "tls/server_context.hpp"

namespace proxy {
namespace {

metrics::build_info build() {
  return {std::string(mapigate::version), BOOST_LIB_VERSION,
          OpenSSL_version(OPENSSL_VERSION_STRING)};
}

std::unique_ptr<accesslog::writer> make_writer(const config::snapshot& c) {
  if (!c.logs) return nullptr;
  accesslog::writer_options o;
  o.directory = c.logs->directory;
  // MAJOR.MINOR.PATCH → the HttpProxy log's Major/Minor/Build columns (Revision 0).
  o.version = {mapigate::version_major, mapigate::version_minor, mapigate::version_patch, 0};
  o.max_file_bytes = c.logs->max_file_bytes;
  o.max_dir_bytes = c.logs->max_directory_bytes;
  o.max_age = c.logs->max_age;
  o.queue_capacity = c.logs->queue_records;
  return std::make_unique<accesslog::writer>(std::move(o));
}

}  // namespace

struct server::impl {
  // Declared first, destroyed last: workers' frames and the admin thread use them to the end.
  metrics::registry registry{build()};
  std::unique_ptr<accesslog::writer> access_log;
  std::atomic<std::size_t> connections{0};  ///< client connections across workers
  mutable std::mutex rt_mutex;
  runtime_ptr rt;  // guarded by rt_mutex: the admin thread reads it, reload replaces it
  std::unique_ptr<health_checker> checker;
  std::vector<std::unique_ptr<worker>> workers;
  std::vector<std::uint16_t> ports;
  std::unique_ptr<admin_server> admin;
  std::atomic<bool> started{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> abort_drain{false};  ///< a second signal: stop waiting for requests
  bool stopped = false;

  runtime_ptr current() const {
    std::lock_guard lock(rt_mutex);
    return rt;
  }
  admin_response handle_admin(const admin_request& r);
  admin_response cordon_vdir(const admin_request& r, std::string_view name, std::string_view rest);
  admin_response auth_protection(const admin_request& r, bool release);
  std::string scrape();
  std::string backends_json() const;
};

std::string server::impl::scrape() {
  const auto now_rt = current();
  metrics::registry::process_view v;
  v.client_connections = connections.load(std::memory_order_relaxed);
  for (const auto& w : workers) {
    const auto& s = w->state();
    v.pinned += s.pinned_connections.load(std::memory_order_relaxed);
    v.in_flight += s.active_requests.load(std::memory_order_relaxed);
    v.notification_waits += s.notification_waits.load(std::memory_order_relaxed);
    v.tls_buffers_kept += s.tls_buffers.kept_count();
    // affinity_outcomes is indexed by routing::affinity_outcome; its "none" slot holds misses.
    for (std::size_t i = 0; i < v.affinity.size(); ++i)
      v.affinity[i] += s.affinity_outcomes[i].load(std::memory_order_relaxed);
  }
  if (access_log) {
    v.log_written = access_log->records_written();
    v.log_dropped = access_log->records_dropped();
    v.log_errors = access_log->write_errors();
  }
  if (now_rt->lockout) {
    const auto t = unix_now();
    v.held_users = now_rt->lockout->held_users(t).size();
    v.held_addresses = now_rt->lockout->held_addresses(t).size();
  }
  registry.set_process(v);
  registry.read_process();
  const auto now = steady_ms();
  const live_health health(*now_rt, now);
  for (std::size_t b = 0; b < now_rt->cfg->backends.size(); ++b) {
    const auto& l = now_rt->live[b];
    metrics::backend_view view{
        .up = l.usable(now),
        .upstream_connections = l.upstream_open.load(std::memory_order_relaxed),
        .sessions = std::size_t(l.notification_waits.load(std::memory_order_relaxed)),
        .cordoned = l.cordoned.load(std::memory_order_relaxed),
        .draining = now_rt->cfg->backends[b].state == config::backend_state::draining};
    for (std::size_t i = 0; i < config::vdir_count; ++i)
      view.vdir_ready[i] = health.of(b, config::vdir_id(i)) == routing::backend_health::ready;
    now_rt->metrics->set_backend(b, view);
  }
  return registry.serialize();
}

namespace {

admin_response text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body)};
}

/// True when the query of `target` has `name=value` among its `&`-separated parameters.
bool query_has(std::string_view target, std::string_view name, std::string_view value) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return false;
  for (auto rest = target.substr(q + 1); !rest.empty();) {
    const auto amp = rest.find('&');
    const auto param = rest.substr(0, amp);
    if (param.size() == name.size() + 1 + value.size() && param.starts_with(name) &&
        param[name.size()] == '=' && param.ends_with(value))
      return true;
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  return false;
}

/// What GET /backends shows of backend `b` of `rt` at `now` (steady_ms()).
backend_status status_of(const runtime& rt, std::size_t b, std::int64_t now) {
  const auto& be = rt.cfg->backends[b];
  const auto& l = rt.live[b];
  const live_health health(rt, now);
  std::vector<backend_status::vdir> vdirs;
  for (std::size_t v = 1; v < config::vdir_count; ++v) {
    const auto& settings = rt.cfg->vdirs[v];
    if (!settings.enabled) continue;
    vdirs.push_back({.name = std::string(config::vdir_names[v].key),
                     .check_up = settings.health_path.empty() || l.vdir_up[v].load(),
                     .cordoned = l.vdir_cordoned[v].load(),
                     .ready = health.of(b, config::vdir_id(v)) == routing::backend_health::ready});
  }
  return {.name = be.name,
          .address = be.address.host + ":" + std::to_string(be.address.port),
          .tls = be.tls.has_value(),
          .draining = be.state == config::backend_state::draining,
          .cordoned = l.cordoned.load(),
          .check_up = l.check_up.load(),
          .reachable = l.reachable.load(),
          .ejected = l.ejected(now),
          .down = l.down(now),
          .usable = l.usable(now),
          .upstream_connections = l.upstream_open.load(),
          .requests_in_flight = l.in_flight.load(),
          .sessions = l.notification_waits.load(),
          .vdirs = std::move(vdirs)};
}

}  // namespace

std::string server::impl::backends_json() const {
  const auto r = current();
  const auto now = steady_ms();
  std::vector<backend_status> list;
  list.reserve(r->cfg->backends.size());
  for (std::size_t b = 0; b < r->cfg->backends.size(); ++b)
    list.push_back(status_of(*r, b, now));
  return proxy::backends_json(list);
}

/// POST /backends/<name>/vdirs/<vdir>/cordon|uncordon: that workload's new requests avoid the
/// backend (or may use it again); its other workloads and its MAPI sessions are untouched. The
/// Set-ServerComponentState analogue for one protocol.
admin_response server::impl::cordon_vdir(const admin_request& r, std::string_view name,
                                         std::string_view rest) {
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return text(404, "not found\n");
  const auto vdir = rest.substr(0, slash);
  const auto action = rest.substr(slash + 1);
  if (action != "cordon" && action != "uncordon") return text(404, "not found\n");
  if (r.method != "POST") return text(405, "use POST\n");
  const auto rt_now = current();
  const auto b = rt_now->backend_index(name);
  if (b == runtime::npos) return text(404, "no such backend\n");
  std::size_t v = 1;
  while (v < config::vdir_count && config::vdir_names[v].key != vdir)
    ++v;
  if (v == config::vdir_count || !rt_now->cfg->vdirs[v].enabled)
    return text(404, "no such published vdir (ews, rpc, ...; /mapi: cordon the backend)\n");
  const bool cordon = action == "cordon";
  rt_now->live[b].vdir_cordoned[v] = cordon;
  log(log_level::info, "admin: backend ", name, cordon ? " cordoned" : " uncordoned", " for ", vdir,
      " (new ", vdir, " requests ", cordon ? "avoid it" : "may use it",
      "; its other workloads are not affected)");
  return {200, "application/json", backends_json()};
}

/// GET /auth-protection: the users and addresses the smart lockout holds now. POST
/// /auth-protection/release?user=<u> (or ?address=<a>): the admin releases one.
admin_response server::impl::auth_protection(const admin_request& r, bool release) {
  const auto rt_now = current();
  if (!rt_now->lockout) return text(404, "auth_protection is not configured\n");
  auto& l = *rt_now->lockout;
  const auto now = unix_now();
  if (!release) {
    if (r.method != "GET" && r.method != "HEAD") return text(405, "use GET\n");
    auto list = [](const std::vector<routing::held_entry>& held, const char* key) {
      boost::json::array out;
      for (const auto& h : held)
        out.push_back({{key, h.key},
                       {"failures", h.failures},
                       {"held_until", accesslog::iso_utc_unix(h.held_until)}});
      return out;
    };
    return {200, "application/json",
            boost::json::serialize(
                boost::json::object{{"users", list(l.held_users(now), "user")},
                                    {"addresses", list(l.held_addresses(now), "address")}}) +
                "\n"};
  }
  if (r.method != "POST") return text(405, "use POST\n");
  const std::string_view target = r.target;
  const auto q = target.find('?');
  const auto query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const auto eq = query.find('=');
  std::string value;
  if (eq == std::string_view::npos || !routing::percent_decode(query.substr(eq + 1), value) ||
      value.empty())
    return text(400, "use ?user=<name> or ?address=<ip>\n");
  const auto what = query.substr(0, eq);
  bool released = false;
  if (what == "user") {
    value = l.canonical_user(value);
    released = l.release_user(value);
  } else if (what == "address") {
    released = l.release_address(value);
  } else {
    return text(400, "use ?user=<name> or ?address=<ip>\n");
  }
  log(log_level::info, "admin: auth_protection ", what, " ", value,
      released ? " released" : " was not held");
  return text(released ? 200 : 404, released ? "released\n" : "not held\n");
}

admin_response server::impl::handle_admin(const admin_request& r) {
  std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
  const bool get = r.method == "GET" || r.method == "HEAD";
  // Liveness and readiness need no token: orchestrators probe them without credentials.
  if (path == "/healthz") return get ? text(200, "ok\n") : text(405, "use GET\n");
  if (path == "/readyz") {
    if (!get) return text(405, "use GET\n");
    if (!started || draining) return text(503, "not ready: draining or not started\n");
    // `?exclude=backends` (the apiserver's own convention): this instance only. For a
    // Kubernetes readiness probe, where an Exchange outage must not empty the Service.
    if (query_has(r.target, "exclude", "backends")) return text(200, "ready\n");
    const auto rt_now = current();
    const auto now = steady_ms();
    // Ready while some backend can be reached: one whose check fails still serves its sessions.
    for (std::size_t b = 0; b < rt_now->cfg->backends.size(); ++b)
      if (!rt_now->live[b].down(now)) return text(200, "ready\n");
    return text(503, "not ready: no backend reachable\n");
  }
  const auto& token = current()->cfg->admin ? current()->cfg->admin->token : std::string();
  if (!token.empty()) {
    const std::string expected = "Bearer " + token;
    if (r.authorization.size() != expected.size() ||
        CRYPTO_memcmp(r.authorization.data(), expected.data(), expected.size()) != 0) {
      log(log_level::warn, "admin ", r.method, " ", path, ": missing or wrong bearer token");
      return {401, "text/plain; charset=utf-8", "bearer token required\n"};
    }
  }
  if (path == "/metrics") {
    if (!get) return text(405, "use GET\n");
    return {200, "text/plain; version=0.0.4; charset=utf-8", scrape()};
  }
  if (path == "/backends") {
    if (!get) return text(405, "use GET\n");
    return {200, "application/json", backends_json()};
  }
  if (path == "/auth-protection" || path == "/auth-protection/release")
    return auth_protection(r, path == "/auth-protection/release");
  constexpr std::string_view prefix = "/backends/";
  if (path.starts_with(prefix)) {
    path.remove_prefix(prefix.size());
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) return text(404, "not found\n");
    const auto name = path.substr(0, slash);
    auto action = path.substr(slash + 1);
    constexpr std::string_view vdirs = "vdirs/";
    if (action.starts_with(vdirs)) return cordon_vdir(r, name, action.substr(vdirs.size()));
    if (action != "cordon" && action != "uncordon") return text(404, "not found\n");
    if (r.method != "POST") return text(405, "use POST\n");
    const auto rt_now = current();
    const auto b = rt_now->backend_index(name);
    if (b == runtime::npos) return text(404, "no such backend\n");
    const bool cordon = action == "cordon";
    rt_now->live[b].cordoned = cordon;
    log(log_level::info, "admin: backend ", name, cordon ? " cordoned" : " uncordoned",
        " (sessions on it stay; new sessions ", cordon ? "avoid it)" : "may use it)");
    return {200, "application/json", backends_json()};
  }
  return text(404, "not found\n");
}

namespace {

/// Fails (throws) when another process already listens on `at`. The workers share a listening
/// address through SO_REUSEPORT, which would also let a second mapigate (same user) join it and
/// silently take a share of the connections; a socket without SO_REUSEPORT cannot bind where
/// anyone listens, so one is bound and closed first, as nginx and HAProxy fail on a taken
/// address. (SO_REUSEADDR: a connection of an earlier run in TIME_WAIT does not count.) Port 0
/// is never taken. Any other failure (no permission, no such address) is left to the workers'
/// own bind, which reports it with its cause.
void refuse_if_taken(const std::string& listener, const tcp::endpoint& at) {
  if (at.port() == 0) return;
  net::io_context ioc;
  tcp::acceptor probe(ioc);
  error_code ec;
  probe.open(at.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(at, ec);
  if (ec == net::error::address_in_use)
    throw std::runtime_error("listener " + listener + " on " + at.address().to_string() + ":" +
                             std::to_string(at.port()) +
                             ": address already in use (another process listens there)");
}

/// Each listener certificate's expiry into its gauge; one that has expired or is not yet
/// valid is logged as an error (clients would refuse it), at start and on every reload.
void report_certificates(const config::snapshot& c, metrics::registry& registry) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& l : c.listeners) {
    if (!l.tls) continue;
    for (const auto& cert : l.tls->certificates) {
      try {
        const auto not_after = tls::certificate_not_after(cert.cert_file);
        const auto not_before = tls::certificate_not_before(cert.cert_file);
        registry.certificate_expiry(l.name, cert.cert_file, not_after);
        if (not_after <= now)
          log(log_level::error, "listener ", l.name, ": certificate ", cert.cert_file,
              " expired on ", accesslog::iso_utc_unix(not_after),
              ": clients refuse it (Outlook shows a certificate warning)");
        else if (not_before > now)
          log(log_level::error, "listener ", l.name, ": certificate ", cert.cert_file,
              " is not valid before ", accesslog::iso_utc_unix(not_before),
              ": clients refuse it until then");
      } catch (const std::exception& e) {
        log(log_level::error, "listener ", l.name, ": ", e.what());
      }
    }
  }
}

}  // namespace

server::server(config::snapshot_ptr cfg) : impl_(std::make_unique<impl>()) {
  impl_->rt = std::make_shared<const runtime>(std::move(cfg), impl_->registry);
  const auto& c = *impl_->rt->cfg;
  report_certificates(c, impl_->registry);
  impl_->registry.config_loaded(true, unix_now());
  impl_->access_log = make_writer(c);
  const process_services shared{impl_->connections, impl_->access_log.get()};
  unsigned n = c.workers ? c.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i)
    impl_->workers.push_back(std::make_unique<worker>(i, impl_->rt, shared));
  for (std::size_t l = 0; l < c.listeners.size(); ++l) {
    const auto& at = c.listeners[l].address;
    tcp::endpoint ep(net::ip::make_address(at.host), at.port);
    refuse_if_taken(c.listeners[l].name, ep);
    // The first worker resolves port 0 to an ephemeral port; the others join it there.
    for (auto& w : impl_->workers)
      ep.port(w->listen(l, ep));
    impl_->ports.push_back(ep.port());
  }
  if (c.admin)
    impl_->admin = std::make_unique<admin_server>(
        c.admin->address, [this](const admin_request& r) { return impl_->handle_admin(r); });
}

server::~server() {
  if (impl_) stop(std::chrono::milliseconds(0));
}

void server::start() {
  impl_->checker = std::make_unique<health_checker>(impl_->rt);
  for (auto& w : impl_->workers)
    w->start();
  impl_->started = true;
  if (impl_->admin) {
    impl_->admin->start();
    log(log_level::info, "admin listener on ", impl_->rt->cfg->admin->address.host, ":",
        impl_->admin->port(), " (GET /metrics)");
  }
  const auto& c = *impl_->rt->cfg;
  for (std::size_t l = 0; l < c.listeners.size(); ++l)
    log(log_level::info, "listener ", c.listeners[l].name, " on ", c.listeners[l].address.host, ":",
        impl_->ports[l], c.listeners[l].tls ? " (TLS)" : " (plain HTTP)", ", ",
        impl_->workers.size(), " workers");
}

std::uint16_t server::port(std::size_t index) const {
  return impl_->ports.at(index);
}

std::uint16_t server::admin_port() const {
  return impl_->admin ? impl_->admin->port() : 0;
}

std::string server::scrape() {
  return impl_->scrape();
}

std::size_t server::active_requests() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().active_requests.load(std::memory_order_relaxed);
  return n;
}

std::size_t server::pinned_connections() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().pinned_connections.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t server::affinity_count(int outcome) const {
  std::uint64_t n = 0;
  for (const auto& w : impl_->workers)
    n += w->state().affinity_outcomes.at(std::size_t(outcome)).load(std::memory_order_relaxed);
  return n;
}

void server::stop(std::chrono::milliseconds grace, std::chrono::milliseconds accept_grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->draining = true;
  using clock = std::chrono::steady_clock;
  // Each wait below is bounded and polled on the control thread (workers never block on it).
  auto wait_while = [&](clock::time_point until, auto&& busy) {
    while (busy() && clock::now() < until && !impl_->abort_drain)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  for (auto& w : impl_->workers)
    w->begin_drain();
  if (accept_grace.count() > 0) {
    log(log_level::info, "draining: health checks answer 503; accepting for ", accept_grace.count(),
        " ms more while balancers notice");
    wait_while(clock::now() + accept_grace, [] { return true; });
  }
  // From here connections are refused (a balancer retries them elsewhere); one the kernel had
  // already queued on a closing listener is reset, which accept_grace exists to avoid.
  for (auto& w : impl_->workers)
    w->close_listeners();
  wait_while(clock::now() + std::chrono::seconds(1), [&] {
    for (const auto& w : impl_->workers)
      if (w->accepting()) return true;
    return false;
  });
  log(log_level::info, "draining: listeners closed, ", active_requests(),
      " request(s) in flight, waiting up to ", grace.count(), " ms");
  // Idle connections get drain_idle_window to send a request that was on its way; requests in
  // flight get `grace`.
  const auto start = clock::now();
  const auto idle_until = start + std::min<clock::duration>(drain_idle_window, grace);
  wait_while(start + grace, [&] {
    return active_requests() > 0 ||
           (impl_->connections.load(std::memory_order_relaxed) > 0 && clock::now() < idle_until);
  });
  if (active_requests() > 0)
    log(log_level::info, "drain ended with ", active_requests(),
        " request(s) still running (long-polls: Outlook re-issues them); closing");
  // The admin thread reads worker state: it goes first.
  if (impl_->admin) impl_->admin->stop();
  if (impl_->checker) impl_->checker->stop();
  for (auto& w : impl_->workers)
    w->stop();
  impl_->workers.clear();
  // Everything the workers queued (including requests cut short just now) reaches the files.
  if (impl_->access_log) impl_->access_log->stop();
}

namespace {

bool same_listeners(const config::snapshot& a, const config::snapshot& b) {
  if (a.listeners.size() != b.listeners.size()) return false;
  for (std::size_t i = 0; i < a.listeners.size(); ++i) {
    const auto &x = a.listeners[i], &y = b.listeners[i];
    if (x.name != y.name || x.address.host != y.address.host || x.address.port != y.address.port ||
        x.tls.has_value() != y.tls.has_value())
      return false;
  }
  return true;
}

}  // namespace

bool server::reload(const std::string& file, const config::overrides& over) {
  auto r = config::load_file(file, over);
  if (!r) {
    for (const auto& d : r.diagnostics)
      log(log_level::error, "reload: ", d.to_string());
    log(log_level::error, "reload: ", file, " has ", r.diagnostics.size(),
        " error(s); still serving the previous configuration");
    impl_->registry.config_loaded(false, unix_now());
    return false;
  }
  const auto old = impl_->current();
  if (!same_listeners(*old->cfg, *r.config)) {
    log(log_level::error,
        "reload: listeners changed (names, addresses or TLS on/off); a restart "
        "applies that. Still serving the previous configuration");
    impl_->registry.config_loaded(false, unix_now());
    return false;
  }
  runtime_ptr next;
  try {
    // Certificates, keys and CAs are loaded here, off the workers; a bad one fails the reload.
    next = std::make_shared<const runtime>(r.config, impl_->registry, old.get());
  } catch (const std::exception& e) {
    log(log_level::error, "reload: ", e.what(), "; still serving the previous configuration");
    impl_->registry.config_loaded(false, unix_now());
    return false;
  }
  const auto& nc = *next->cfg;
  const auto& oc = *old->cfg;
  report_certificates(nc, impl_->registry);
  if (nc.workers != oc.workers || nc.logs.has_value() != oc.logs.has_value() ||
      (nc.logs && nc.logs->directory != oc.logs->directory) ||
      nc.admin.has_value() != oc.admin.has_value() ||
      (nc.admin && (nc.admin->address.host != oc.admin->address.host ||
                    nc.admin->address.port != oc.admin->address.port)))
    log(log_level::warn, "reload: workers, logs and admin settings take effect on restart");
  auto checker = std::make_unique<health_checker>(next);
  for (auto& w : impl_->workers)
    w->set_runtime(next);
  {
    std::lock_guard lock(impl_->rt_mutex);
    impl_->rt = next;
  }
  impl_->checker = std::move(checker);  // the old checker stops here
  impl_->registry.config_loaded(true, unix_now());
  log(log_level::info, "reload: ", file, " is now in effect (", nc.backends.size(),
      " backends); requests in flight finish on the previous configuration");
  return true;
}

void server::run_until_signal(const std::string& config_file, const config::overrides& over) {
  net::io_context control;
  net::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  int received = 0;
  std::function<void(error_code, int)> on_signal = [&](error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP && !config_file.empty()) {
      log(log_level::info, "SIGHUP: reloading ", config_file);
      sd_notify_reloading();
      reload(config_file, over);
      sd_notify("READY=1");
      signals.async_wait(on_signal);
      return;
    }
    if (sig == SIGHUP) {
      signals.async_wait(on_signal);
      return;
    }
    received = sig;
  };
  signals.async_wait(on_signal);
  // Ready only now: the signals are ours, so a reload right after it cannot kill the process.
  sd_notify("READY=1");
  log(log_level::info, "ready (SIGHUP reloads, SIGTERM drains)");
  control.run();
  log(log_level::info, "signal ", received, " received; stopping (a second signal ends the drain)");
  sd_notify("STOPPING=1");
  // A second SIGINT/SIGTERM while draining ends the drain at once.
  control.restart();
  signals.async_wait([&](error_code ec, int sig) {
    if (!ec && sig != SIGHUP) impl_->abort_drain = true;
  });
  std::thread second([&] { control.run(); });
  const auto& t = impl_->rt->cfg->timeouts;
  stop(t.drain, t.accept_grace);
  control.stop();
  second.join();
  log(log_level::info, "stopped");
}

}  // namespace proxy
