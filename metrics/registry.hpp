// mapigate's Prometheus metrics: one process-wide registry (prometheus-cpp) and, per config
// snapshot, the resolved handles the data path updates.
//
// Contract: the registry outlives every handles object built from it. Handles are built on the
// control thread when a snapshot is loaded; every label set they can touch is resolved then, so
// the request path only indexes arrays and updates atomics (prometheus-cpp counters and gauges
// are atomic; a histogram takes its own short mutex). Series are never removed: a backend that
// leaves the config keeps its last values until restart, like HAProxy's stats.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "metrics/labels.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace metrics {

/// Build metadata for mapigate_build_info.
struct build_info {
  std::string version;
  std::string boost;
  std::string openssl;
};

class registry {
 public:
  explicit registry(const build_info& build);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Prometheus text exposition format 0.0.4 of everything registered. Thread-safe.
  std::string serialize() const;

  /// Process-wide gauges and counters mirrored from the workers' own atomics: set by whoever
  /// serves a scrape, just before serialize().
  struct process_view {
    std::size_t client_connections = 0;
    std::size_t pinned = 0;
    std::size_t in_flight = 0;
    std::size_t notification_waits = 0;
    std::size_t tls_buffers_kept = 0;  ///< TLS connections keeping OpenSSL's buffers
    std::array<std::uint64_t, affinity_outcome_names.size()> affinity{};  ///< totals
    std::uint64_t log_written = 0, log_dropped = 0, log_errors = 0;       ///< totals
    std::size_t held_users = 0, held_addresses = 0;  ///< the smart lockout, now
  };
  void set_process(const process_view& v) noexcept;
  /// The process_* metrics (CPU, memory, descriptors, start time) from /proc: at scrape time.
  void read_process() noexcept;

  /// A config load or reload: counted when it happens (a failed reload builds no handles).
  void config_loaded(bool ok, std::int64_t unix_now) noexcept;
  /// The notAfter (Unix seconds) of `certificate` (its file) on `listener`: the series of
  /// mapigate_certificate_expiry_timestamp_seconds. Called at start and on each reload.
  void certificate_expiry(const std::string& listener, const std::string& certificate,
                          std::int64_t not_after);

  struct families;
  families& f() noexcept { return *families_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<families> families_;
};

/// What one completed request contributes.
struct request_sample {
  std::size_t ns = 2;  ///< index into namespace_names
  vdir_label vdir = vdir_label::other;
  std::size_t request_type = 0;        ///< request_type_index(vdir, ...)
  std::optional<std::size_t> backend;  ///< the backend that answered, if any
  int http_status = 0;                 ///< 0: no response sent
  double seconds = 0;                  ///< whole request
  std::optional<int> mapi_code;        ///< X-ResponseCode sent to the client
  request_outcome outcome = request_outcome::completed;
  bool auth_step = false;            ///< no credentials, or an NTLM type 1: a 401 is auth_challenge
  std::uint64_t request_bytes = 0;   ///< received from the client (head and body)
  std::uint64_t response_bytes = 0;  ///< sent to the client (head and body)
};

/// A backend's gauges, read from its live state at scrape time.
struct backend_view {
  bool up = false;
  std::size_t upstream_connections = 0;
  std::size_t sessions = 0;  ///< NotificationWaits held: one per Outlook session on it
  bool cordoned = false;     ///< by the admin API
  bool draining = false;     ///< by the config (state: draining)
  /// Per config::vdir_id: takes that workload's new requests (its own check passes, not
  /// cordoned for it). Only vdirs published with a check of their own are exported.
  std::array<bool, config::vdir_count> vdir_ready{};
};

/// The handles of one config snapshot. Const member functions are thread-safe.
class handles {
 public:
  handles(registry& r, const config::snapshot& cfg);
  ~handles();
  handles(const handles&) = delete;
  handles& operator=(const handles&) = delete;

  void request(const request_sample& s) const noexcept;
  void upstream_connected(std::size_t backend, double seconds) const noexcept;
  void upstream_connect_failed(std::size_t backend) const noexcept;
  void first_byte(std::size_t backend, double seconds) const noexcept;
  void tls_handshake(bool ok, std::string_view version) const noexcept;
  /// An HTTP/2 connection ended by a connection error: the GOAWAY's error code (RFC 9113 §7).
  void h2_connection_error(std::uint32_t code) const noexcept;
  /// An exception escaped a coroutine serving a peer (a bug): `stream` an HTTP/2 stream's,
  /// otherwise a connection's.
  void session_exception(bool stream) const noexcept;
  void backend_ejected(std::size_t backend) const noexcept;
  void health_check(std::size_t backend, bool passed, double seconds) const noexcept;
  /// The smart lockout: a logon refused by mapigate (`address`: the address was held, else the
  /// user), and a failed logon it counted.
  void auth_refused(bool address) const noexcept;
  void auth_failure() const noexcept;
  /// A connection a PROXY protocol listener closed before reading HTTP.
  void proxy_protocol_refused(proxy_refusal why) const noexcept;
  /// One active check of vdir `vdir` (a config::vdir_id value) on `backend`.
  void vdir_health_check(std::size_t backend, std::size_t vdir, bool passed) const noexcept;

  /// Backend gauges, set at scrape time.
  void set_backend(std::size_t backend, const backend_view& v) const noexcept;

 private:
  struct table;
  std::unique_ptr<table> t_;
};

}  // namespace metrics
