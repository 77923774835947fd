// Families, build info and the per-snapshot handle tables.
#include "metrics/registry.hpp"

#include "metrics/process.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace metrics {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

namespace {

const Histogram::BucketBoundaries request_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                  1,     2.5,  5,     10,   30,  60};
const Histogram::BucketBoundaries long_poll_buckets{1,   5,   15,  30,   60,  120,
                                                    300, 600, 900, 1200, 1800};
const Histogram::BucketBoundaries connect_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5};

/// Adds to a counter mirrored from a monotonic total kept elsewhere (scrapes are serialised
/// by the caller; a total never goes down).
void mirror(Counter& c, double total) {
  if (total > c.Value()) c.Increment(total - c.Value());
}
void mirror(Counter& c, std::uint64_t total) {
  mirror(c, static_cast<double>(total));
}

/// HTTP/2 error codes (RFC 9113 §7) a GOAWAY can carry, 0x1 to 0xd; then "other".
constexpr std::array<std::string_view, 14> h2_error_names = {
    "protocol_error",     "internal_error",
    "flow_control_error", "settings_timeout",
    "stream_closed",      "frame_size_error",
    "refused_stream",     "cancel",
    "compression_error",  "connect_error",
    "enhance_your_calm",  "inadequate_security",
    "http_1_1_required",  "other"};

}  // namespace

struct registry::families {
  Family<Counter>& requests;
  Family<Counter>& backend_requests;
  Family<Histogram>& duration;
  Family<Histogram>& notification_wait;
  Family<Histogram>& connect;
  Family<Histogram>& first_byte;
  Family<Counter>& connect_errors;
  Family<Counter>& mapi_responses;
  Family<Gauge>& upstream_connections;
  Family<Gauge>& backend_up;
  Family<Gauge>& backend_sessions;
  Family<Gauge>& backend_cordoned;
  Family<Gauge>& backend_draining;
  Family<Counter>& request_bytes;
  Family<Counter>& response_bytes;
  Family<Gauge>& vdir_up;
  Family<Counter>& vdir_checks;
  Family<Counter>& proxy_refused;
  Family<Counter>& auth_refusals;
  Counter& auth_failures;
  Family<Gauge>& auth_held;
  Gauge& held_users;
  Gauge& held_addresses;
  Family<Gauge>& certificate_expiry;
  Family<Counter>& tls_handshakes;
  Family<Counter>& h2_connection_errors;
  Family<Counter>& session_exceptions;
  Family<Counter>& request_outcomes;
  Family<Counter>& ejections;
  Family<Counter>& health_checks;
  Family<Histogram>& health_check_duration;

  Gauge& client_connections;
  Gauge& pinned;
  Gauge& in_flight;
  Gauge& notification_waits;
  Gauge& tls_buffers_kept;
  std::array<Counter*, affinity_outcome_names.size()> affinity{};
  Counter& log_written;
  Counter& log_dropped;
  Counter& log_errors;
  Family<Counter>& reloads;
  Counter& reload_ok;
  Counter& reload_failed;
  Gauge& last_reload;
  Counter& process_cpu;
  Gauge& process_open_fds;
  Gauge& process_max_fds;
  Gauge& process_resident;
  Gauge& process_virtual;
  Gauge& process_start;

  explicit families(prometheus::Registry& r)
      : requests(BuildCounter()
                     .Name("mapigate_requests_total")
                     .Help("Completed requests by namespace, vdir, X-RequestType and status class")
                     .Register(r)),
        backend_requests(BuildCounter()
                             .Name("mapigate_backend_requests_total")
                             .Help("Completed requests by the backend that answered (none: "
                                   "mapigate answered), vdir and status class")
                             .Register(r)),
        duration(BuildHistogram()
                     .Name("mapigate_request_duration_seconds")
                     .Help("Whole request time, NotificationWait excluded")
                     .Register(r)),
        notification_wait(BuildHistogram()
                              .Name("mapigate_notification_wait_duration_seconds")
                              .Help("NotificationWait long-poll time")
                              .Register(r)),
        connect(BuildHistogram()
                    .Name("mapigate_upstream_connect_duration_seconds")
                    .Help("TCP connect and TLS handshake to a backend")
                    .Register(r)),
        first_byte(BuildHistogram()
                       .Name("mapigate_upstream_first_byte_seconds")
                       .Help("Request sent to response head received, per backend")
                       .Register(r)),
        connect_errors(BuildCounter()
                           .Name("mapigate_upstream_connect_errors_total")
                           .Help("Failed backend connects")
                           .Register(r)),
        mapi_responses(BuildCounter()
                           .Name("mapigate_mapi_responses_total")
                           .Help("MAPI responses sent to clients, by X-ResponseCode")
                           .Register(r)),
        upstream_connections(BuildGauge()
                                 .Name("mapigate_upstream_connections")
                                 .Help("Open backend connections (busy, idle and pinned)")
                                 .Register(r)),
        backend_up(BuildGauge()
                       .Name("mapigate_backend_up")
                       .Help("1 when the backend is usable")
                       .Register(r)),
        backend_sessions(BuildGauge()
                             .Name("mapigate_backend_sessions")
                             .Help("Outlook sessions held on the backend (one NotificationWait "
                                   "each): watch it fall to 0 after a cordon")
                             .Register(r)),
        backend_cordoned(BuildGauge()
                             .Name("mapigate_backend_cordoned")
                             .Help("1 when the backend is cordoned through the admin API: its "
                                   "sessions stay, new sessions avoid it")
                             .Register(r)),
        backend_draining(BuildGauge()
                             .Name("mapigate_backend_draining")
                             .Help("1 when the configuration sets the backend to state: draining")
                             .Register(r)),
        request_bytes(BuildCounter()
                          .Name("mapigate_request_bytes_total")
                          .Help("Bytes received from clients (request heads and bodies), by vdir")
                          .Register(r)),
        response_bytes(BuildCounter()
                           .Name("mapigate_response_bytes_total")
                           .Help("Bytes sent to clients (response heads and bodies), by vdir")
                           .Register(r)),
        vdir_up(BuildGauge()
                    .Name("mapigate_backend_vdir_up")
                    .Help("1 when the backend takes new requests of the vdir: its own check "
                          "(/<vdir>/healthcheck.htm) passes and it is not cordoned for it")
                    .Register(r)),
        vdir_checks(BuildCounter()
                        .Name("mapigate_vdir_health_checks_total")
                        .Help("Active checks of each vdir's own page on each backend, by result")
                        .Register(r)),
        proxy_refused(BuildCounter()
                          .Name("mapigate_proxy_protocol_refused_total")
                          .Help("Connections a PROXY protocol listener closed before reading HTTP, "
                                "by reason: untrusted source, missing or malformed header")
                          .Register(r)),
        auth_refusals(BuildCounter()
                          .Name("mapigate_auth_protection_refusals_total")
                          .Help("Logons mapigate answered 401 itself (smart lockout), by rule: "
                                "user (held for unfamiliar addresses) or address (spraying)")
                          .Register(r)),
        auth_failures(
            BuildCounter()
                .Name("mapigate_auth_protection_failures_total")
                .Help("Failed logons (401 to final credentials) the smart lockout counted")
                .Register(r)
                .Add({})),
        auth_held(BuildGauge()
                      .Name("mapigate_auth_protection_held")
                      .Help("Users and client addresses the smart lockout holds now, by kind")
                      .Register(r)),
        held_users(auth_held.Add({{"kind", "user"}})),
        held_addresses(auth_held.Add({{"kind", "address"}})),
        certificate_expiry(BuildGauge()
                               .Name("mapigate_certificate_expiry_timestamp_seconds")
                               .Help("When each listener certificate expires (its notAfter, "
                                     "Unix seconds)")
                               .Register(r)),
        tls_handshakes(BuildCounter()
                           .Name("mapigate_tls_handshakes_total")
                           .Help("Client TLS handshakes by result and protocol version")
                           .Register(r)),
        h2_connection_errors(BuildCounter()
                                 .Name("mapigate_http2_connection_errors_total")
                                 .Help("HTTP/2 client connections ended by a connection error "
                                       "(GOAWAY sent), by its error code")
                                 .Register(r)),
        session_exceptions(BuildCounter()
                               .Name("mapigate_session_exceptions_total")
                               .Help("Exceptions that escaped a coroutine serving a client (a "
                                     "bug: logged; the worker carries on), by where")
                               .Register(r)),
        request_outcomes(BuildCounter()
                             .Name("mapigate_request_outcomes_total")
                             .Help("Requests by how they ended (completed, refused, "
                                   "backend_timeout, client_disconnected, ...)")
                             .Register(r)),
        ejections(BuildCounter()
                      .Name("mapigate_backend_ejections_total")
                      .Help("Backends taken out after repeated connect failures or 5xx")
                      .Register(r)),
        health_checks(BuildCounter()
                          .Name("mapigate_health_checks_total")
                          .Help("Active health checks (GET /mapi/healthcheck.htm) by result")
                          .Register(r)),
        health_check_duration(BuildHistogram()
                                  .Name("mapigate_health_check_duration_seconds")
                                  .Help("Active health check time, connect included")
                                  .Register(r)),
        client_connections(BuildGauge()
                               .Name("mapigate_client_connections")
                               .Help("Open client connections")
                               .Register(r)
                               .Add({})),
        pinned(BuildGauge()
                   .Name("mapigate_upstream_connections_pinned")
                   .Help("Backend connections bound to one client by NTLM/Negotiate")
                   .Register(r)
                   .Add({})),
        in_flight(BuildGauge()
                      .Name("mapigate_requests_in_flight")
                      .Help("Requests being proxied")
                      .Register(r)
                      .Add({})),
        notification_waits(BuildGauge()
                               .Name("mapigate_notification_waits_in_flight")
                               .Help("NotificationWait long-polls held")
                               .Register(r)
                               .Add({})),
        tls_buffers_kept(
            BuildGauge()
                .Name("mapigate_tls_connections_keeping_buffers")
                .Help("TLS connections (client and backend) keeping OpenSSL's record buffers "
                      "while busy")
                .Register(r)
                .Add({})),
        log_written(BuildCounter()
                        .Name("mapigate_log_records_written_total")
                        .Help("HttpProxy log records written")
                        .Register(r)
                        .Add({})),
        log_dropped(BuildCounter()
                        .Name("mapigate_log_records_dropped_total")
                        .Help("HttpProxy log records dropped because the queue was full")
                        .Register(r)
                        .Add({})),
        log_errors(BuildCounter()
                       .Name("mapigate_log_write_errors_total")
                       .Help("HttpProxy log records lost to I/O errors")
                       .Register(r)
                       .Add({})),
        reloads(BuildCounter()
                    .Name("mapigate_config_reloads_total")
                    .Help("Configuration loads and reloads by result")
                    .Register(r)),
        reload_ok(reloads.Add({{"result", "success"}})),
        reload_failed(reloads.Add({{"result", "failure"}})),
        last_reload(BuildGauge()
                        .Name("mapigate_config_last_reload_success_timestamp_seconds")
                        .Help("Unix time of the last successful configuration (re)load")
                        .Register(r)
                        .Add({})),
        process_cpu(BuildCounter()
                        .Name("process_cpu_seconds_total")
                        .Help("Total user and system CPU time spent in seconds.")
                        .Register(r)
                        .Add({})),
        process_open_fds(BuildGauge()
                             .Name("process_open_fds")
                             .Help("Number of open file descriptors.")
                             .Register(r)
                             .Add({})),
        process_max_fds(BuildGauge()
                            .Name("process_max_fds")
                            .Help("Maximum number of open file descriptors.")
                            .Register(r)
                            .Add({})),
        process_resident(BuildGauge()
                             .Name("process_resident_memory_bytes")
                             .Help("Resident memory size in bytes.")
                             .Register(r)
                             .Add({})),
        process_virtual(BuildGauge()
                            .Name("process_virtual_memory_bytes")
                            .Help("Virtual memory size in bytes.")
                            .Register(r)
                            .Add({})),
        process_start(BuildGauge()
                          .Name("process_start_time_seconds")
                          .Help("Start time of the process since unix epoch in seconds.")
                          .Register(r)
                          .Add({})) {
    auto& aff = BuildCounter()
                    .Name("mapigate_affinity_requests_total")
                    .Help(
                        "Affinity token outcomes: hit, miss (no token on a session request) "
                        "and every reason a token was ignored")
                    .Register(r);
    for (std::size_t i = 0; i < affinity.size(); ++i)
      affinity[i] = &aff.Add({{"outcome", std::string(affinity_outcome_names[i])}});
  }
};

registry::registry(const build_info& build)
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<families>(*registry_)) {
  BuildGauge()
      .Name("mapigate_build_info")
      .Help("mapigate build metadata (always 1)")
      .Register(*registry_)
      .Add({{"version", build.version}, {"boost", build.boost}, {"openssl", build.openssl}})
      .Set(1);
}

registry::~registry() = default;

std::string registry::serialize() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

void registry::set_process(const process_view& v) noexcept {
  auto& f = *families_;
  f.client_connections.Set(double(v.client_connections));
  f.pinned.Set(double(v.pinned));
  f.in_flight.Set(double(v.in_flight));
  f.notification_waits.Set(double(v.notification_waits));
  f.tls_buffers_kept.Set(double(v.tls_buffers_kept));
  for (std::size_t i = 0; i < v.affinity.size(); ++i)
    mirror(*f.affinity[i], v.affinity[i]);
  mirror(f.log_written, v.log_written);
  mirror(f.log_dropped, v.log_dropped);
  mirror(f.log_errors, v.log_errors);
  f.held_users.Set(double(v.held_users));
  f.held_addresses.Set(double(v.held_addresses));
}

void registry::read_process() noexcept {
  auto& f = *families_;
  const auto p = read_process_stats();
  mirror(f.process_cpu, p.cpu_seconds);
  f.process_open_fds.Set(p.open_fds);
  f.process_max_fds.Set(p.max_fds);
  f.process_resident.Set(p.resident_bytes);
  f.process_virtual.Set(p.virtual_bytes);
  f.process_start.Set(p.start_time_seconds);
}

void registry::certificate_expiry(const std::string& listener, const std::string& certificate,
                                  std::int64_t not_after) {
  f().certificate_expiry.Add({{"listener", listener}, {"certificate", certificate}})
      .Set(double(not_after));
}

void registry::config_loaded(bool ok, std::int64_t unix_now) noexcept {
  auto& f = *families_;
  if (!ok) {
    f.reload_failed.Increment();
    return;
  }
  f.reload_ok.Increment();
  f.last_reload.Set(double(unix_now));
}

// ---- per-snapshot handles ----

struct handles::table {
  std::size_t backends = 0;
  /// [ns][request_type_slot][code_class]
  std::vector<Counter*> requests;
  /// [backend or none][vdir][code_class]
  std::vector<Counter*> backend_requests;
  std::vector<Histogram*> duration;  ///< [request_type_slot]; NotificationWait's slot unused
  Histogram* notification_wait = nullptr;
  std::vector<Histogram*> connect, first_byte;  ///< [backend]
  std::vector<Counter*> connect_errors;         ///< [backend]
  std::array<Counter*, mapi_code_labels> mapi{};
  std::vector<Gauge*> upstream_connections, backend_up;  ///< [backend]
  std::vector<Gauge*> sessions, cordoned, draining;      ///< [backend]
  /// [backend * vdir_count + vdir]; null for a vdir without a check of its own.
  std::vector<Gauge*> vdir_up;
  std::vector<std::array<Counter*, 2>> vdir_checks;  ///< same index; [failed, passed]
  std::array<Counter*, 2> auth_refused{};            ///< [user, address]
  std::array<Counter*, proxy_refusal_names.size()> proxy_refused{};
  Counter* auth_failures = nullptr;
  std::array<Counter*, vdir_names.size()> request_bytes{}, response_bytes{};
  std::array<Counter*, 2 * tls_version_names.size()> tls{};  ///< [ok?][version]
  std::array<Counter*, h2_error_names.size()> h2_errors{};   ///< [code - 1]
  std::array<Counter*, request_outcome_names.size()> outcomes{};
  std::array<Counter*, 2> exceptions{};                ///< [connection, http2_stream]
  std::vector<Counter*> ejections;                     ///< [backend]
  std::vector<Counter*> checks_passed, checks_failed;  ///< [backend]
  std::vector<Histogram*> check_duration;              ///< [backend]
  std::size_t notification_wait_slot = 0;
};

handles::handles(registry& r, const config::snapshot& cfg) : t_(std::make_unique<table>()) {
  auto& f = r.f();
  auto& t = *t_;
  t.backends = cfg.backends.size();
  const std::size_t slots = request_type_slots();
  const std::size_t classes = code_class_names.size();
  t.requests.resize(namespace_names.size() * slots * classes);
  t.duration.resize(slots);
  for (std::size_t v = 0; v < vdir_names.size(); ++v) {
    const auto vdir = vdir_label(v);
    const auto types = request_types(vdir);
    for (std::size_t ti = 0; ti < types.size(); ++ti) {
      const std::size_t slot = request_type_slot(vdir, ti);
      const std::string type(types[ti]);
      if (types[ti] == "NotificationWait") {
        t.notification_wait_slot = slot;
      } else {
        t.duration[slot] = &f.duration.Add(
            {{"vdir", std::string(vdir_names[v])}, {"request_type", type}}, request_buckets);
      }
      for (std::size_t ns = 0; ns < namespace_names.size(); ++ns) {
        // A request matches no namespace only when it is refused before any vdir applies.
        if (ns == 2 && vdir != vdir_label::other) continue;
        for (std::size_t c = 0; c < classes; ++c)
          t.requests[(ns * slots + slot) * classes + c] =
              &f.requests.Add({{"mapi_namespace", std::string(namespace_names[ns])},
                               {"vdir", std::string(vdir_names[v])},
                               {"request_type", type},
                               {"code_class", std::string(code_class_names[c])}});
      }
    }
  }
  t.notification_wait = &f.notification_wait.Add({}, long_poll_buckets);
  for (std::size_t i = 0; i < proxy_refusal_names.size(); ++i)
    t.proxy_refused[i] = &f.proxy_refused.Add({{"reason", std::string(proxy_refusal_names[i])}});
  t.auth_refused[0] = &f.auth_refusals.Add({{"rule", "user"}});
  t.auth_refused[1] = &f.auth_refusals.Add({{"rule", "address"}});
  t.auth_failures = &f.auth_failures;
  for (std::size_t v = 0; v < vdir_names.size(); ++v) {
    t.request_bytes[v] = &f.request_bytes.Add({{"vdir", std::string(vdir_names[v])}});
    t.response_bytes[v] = &f.response_bytes.Add({{"vdir", std::string(vdir_names[v])}});
  }
  t.backend_requests.resize((t.backends + 1) * vdir_names.size() * classes);
  for (std::size_t b = 0; b <= t.backends; ++b) {
    const std::string name = b < t.backends ? cfg.backends[b].name : "none";
    for (std::size_t v = 0; v < vdir_names.size(); ++v)
      for (std::size_t c = 0; c < classes; ++c)
        t.backend_requests[(b * vdir_names.size() + v) * classes + c] =
            &f.backend_requests.Add({{"backend", name},
                                     {"vdir", std::string(vdir_names[v])},
                                     {"code_class", std::string(code_class_names[c])}});
    if (b == t.backends) break;
    t.connect.push_back(&f.connect.Add({{"backend", name}}, connect_buckets));
    t.first_byte.push_back(&f.first_byte.Add({{"backend", name}}, request_buckets));
    t.connect_errors.push_back(&f.connect_errors.Add({{"backend", name}}));
    t.upstream_connections.push_back(&f.upstream_connections.Add({{"backend", name}}));
    t.backend_up.push_back(&f.backend_up.Add({{"backend", name}}));
    t.sessions.push_back(&f.backend_sessions.Add({{"backend", name}}));
    for (std::size_t v = 0; v < config::vdir_count; ++v) {
      const bool checked = v != 0 && cfg.vdirs[v].enabled && !cfg.vdirs[v].health_path.empty();
      std::array<Counter*, 2> checks{};
      Gauge* up = nullptr;
      if (checked) {
        const std::string vdir(config::vdir_names[v].key);
        up = &f.vdir_up.Add({{"backend", name}, {"vdir", vdir}});
        checks[0] = &f.vdir_checks.Add({{"backend", name}, {"vdir", vdir}, {"result", "fail"}});
        checks[1] = &f.vdir_checks.Add({{"backend", name}, {"vdir", vdir}, {"result", "pass"}});
      }
      t.vdir_up.push_back(up);
      t.vdir_checks.push_back(checks);
    }
    t.cordoned.push_back(&f.backend_cordoned.Add({{"backend", name}}));
    t.draining.push_back(&f.backend_draining.Add({{"backend", name}}));
    t.ejections.push_back(&f.ejections.Add({{"backend", name}}));
    t.checks_passed.push_back(&f.health_checks.Add({{"backend", name}, {"result", "pass"}}));
    t.checks_failed.push_back(&f.health_checks.Add({{"backend", name}, {"result", "fail"}}));
    t.check_duration.push_back(&f.health_check_duration.Add({{"backend", name}}, connect_buckets));
  }
  for (std::size_t i = 0; i < mapi_code_labels; ++i)
    t.mapi[i] = &f.mapi_responses.Add(
        {{"mapi_code", i + 1 < mapi_code_labels ? std::to_string(i) : std::string("other")}});
  for (std::size_t ok = 0; ok < 2; ++ok)
    for (std::size_t v = 0; v < tls_version_names.size(); ++v)
      t.tls[ok * tls_version_names.size() + v] = &f.tls_handshakes.Add(
          {{"result", ok ? "ok" : "failed"}, {"version", std::string(tls_version_names[v])}});
  for (std::size_t i = 0; i < request_outcome_names.size(); ++i)
    t.outcomes[i] = &f.request_outcomes.Add({{"outcome", std::string(request_outcome_names[i])}});
  t.exceptions[0] = &f.session_exceptions.Add({{"in", "connection"}});
  t.exceptions[1] = &f.session_exceptions.Add({{"in", "http2_stream"}});
  for (std::size_t i = 0; i < h2_error_names.size(); ++i)
    t.h2_errors[i] = &f.h2_connection_errors.Add({{"code", std::string(h2_error_names[i])}});
}

handles::~handles() = default;

void handles::request(const request_sample& s) const noexcept {
  const auto& t = *t_;
  const std::size_t slots = request_type_slots();
  const std::size_t classes = code_class_names.size();
  const std::size_t slot = request_type_slot(s.vdir, s.request_type);
  const std::size_t cls = code_class(s.http_status, s.auth_step);
  // Only the "other" vdir has namespace "none" series: callers map a request that matched no
  // namespace to it.
  if (auto* c = t.requests[(s.ns * slots + slot) * classes + cls]) c->Increment();
  const std::size_t b = s.backend && *s.backend < t.backends ? *s.backend : t.backends;
  t.backend_requests[(b * vdir_names.size() + std::size_t(s.vdir)) * classes + cls]->Increment();
  if (slot == t.notification_wait_slot && s.vdir == vdir_label::emsmdb)
    t.notification_wait->Observe(s.seconds);
  else
    t.duration[slot]->Observe(s.seconds);
  if (s.mapi_code) t.mapi[mapi_code_index(*s.mapi_code)]->Increment();
  if (std::size_t(s.outcome) < t.outcomes.size()) t.outcomes[std::size_t(s.outcome)]->Increment();
  t.request_bytes[std::size_t(s.vdir)]->Increment(double(s.request_bytes));
  t.response_bytes[std::size_t(s.vdir)]->Increment(double(s.response_bytes));
}

void handles::upstream_connected(std::size_t b, double seconds) const noexcept {
  if (b < t_->backends) t_->connect[b]->Observe(seconds);
}

void handles::upstream_connect_failed(std::size_t b) const noexcept {
  if (b < t_->backends) t_->connect_errors[b]->Increment();
}

void handles::first_byte(std::size_t b, double seconds) const noexcept {
  if (b < t_->backends) t_->first_byte[b]->Observe(seconds);
}

void handles::tls_handshake(bool ok, std::string_view version) const noexcept {
  t_->tls[(ok ? 1 : 0) * tls_version_names.size() + tls_version_index(version)]->Increment();
}

void handles::h2_connection_error(std::uint32_t code) const noexcept {
  const std::size_t i =
      code >= 1 && code < h2_error_names.size() ? code - 1 : h2_error_names.size() - 1;
  t_->h2_errors[i]->Increment();
}

void handles::session_exception(bool stream) const noexcept {
  t_->exceptions[stream ? 1 : 0]->Increment();
}

void handles::backend_ejected(std::size_t b) const noexcept {
  if (b < t_->backends) t_->ejections[b]->Increment();
}

void handles::health_check(std::size_t b, bool passed, double seconds) const noexcept {
  if (b >= t_->backends) return;
  (passed ? t_->checks_passed : t_->checks_failed)[b]->Increment();
  t_->check_duration[b]->Observe(seconds);
}

void handles::auth_refused(bool address) const noexcept {
  t_->auth_refused[address ? 1 : 0]->Increment();
}

void handles::proxy_protocol_refused(proxy_refusal why) const noexcept {
  if (std::size_t(why) < t_->proxy_refused.size()) t_->proxy_refused[std::size_t(why)]->Increment();
}

void handles::auth_failure() const noexcept {
  t_->auth_failures->Increment();
}

void handles::vdir_health_check(std::size_t b, std::size_t vdir, bool passed) const noexcept {
  if (b >= t_->backends || vdir >= config::vdir_count) return;
  if (auto* c = t_->vdir_checks[b * config::vdir_count + vdir][passed ? 1 : 0]) c->Increment();
}

void handles::set_backend(std::size_t b, const backend_view& v) const noexcept {
  if (b >= t_->backends) return;
  for (std::size_t i = 0; i < config::vdir_count; ++i)
    if (auto* g = t_->vdir_up[b * config::vdir_count + i]) g->Set(v.vdir_ready[i] ? 1 : 0);
  t_->backend_up[b]->Set(v.up ? 1 : 0);
  t_->upstream_connections[b]->Set(double(v.upstream_connections));
  t_->sessions[b]->Set(double(v.sessions));
  t_->cordoned[b]->Set(v.cordoned ? 1 : 0);
  t_->draining[b]->Set(v.draining ? 1 : 0);
}

}  // namespace metrics
