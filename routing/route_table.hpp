// The routing decision for one request: namespace, vdir, policy checks and the ordered list of
// backends that may serve it. Pure: no I/O, no clock, no shared state; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "routing/affinity.hpp"
#include "routing/anchor.hpp"
#include "routing/mailbox_id.hpp"
#include "routing/mapi_codes.hpp"
#include "routing/namespaces.hpp"
#include "routing/rendezvous.hpp"

namespace routing {

/// What the proxy knows about a request once its head is parsed.
struct request_view {
  std::string_view method;  ///< as received, e.g. "POST"
  std::string_view target;  ///< request-target as received, e.g. "/mapi/emsmdb/?MailboxId=…"
  std::optional<std::string_view> host;            ///< Host header value, if present (exactly one)
  std::optional<std::string_view> sni;             ///< TLS server name, if the client sent one
  std::string_view request_type;                   ///< X-RequestType value ("" when absent)
  std::optional<std::string_view> authorization;   ///< Authorization header value
  std::optional<std::string_view> affinity_token;  ///< value of mapigate's affinity cookie
  std::int64_t now_unix = 0;                       ///< wall clock, for token age
  std::optional<std::string_view> anchor_mailbox;  ///< X-AnchorMailbox value (exactly one)
  /// Autodiscover's EMailAddress, read from a POX request body (proxy/request/pox_anchor):
  /// used when nothing in the head anchors the request.
  std::optional<std::string_view> body_email;
  /// The client's address: the hash key of a request without an anchor on a vdir other than
  /// /mapi, so that one client's requests (and NTLM legs) meet one server.
  std::string_view client;
};

/// One backend's health as routing weighs it (the proxy reads it off its live state per request).
enum class backend_health : std::uint8_t {
  /// Takes new sessions: its check passes, it can be reached, nothing drains it.
  ready,
  /// Can be reached, but its check fails, passive ejection took it out for errors, or the admin
  /// drained it: keeps the sessions that live there; new ones only when no ready one is left.
  draining,
  /// Cannot be reached: its sessions are lost (X-ResponseCode 10 for all but Connect/Bind); new
  /// sessions only as a last resort (health can be wrong; an error is sure).
  down,
};

/// Per backend index, as many as the configuration has (an empty view: all ready).
using health_view = std::span<const backend_health>;

/// Health per backend and vdir: each vdir has its own active check (Managed Availability
/// publishes one healthcheck.htm per protocol), so a backend can be ready for MAPI and
/// draining for EWS. Implemented by the proxy over its live state; tests use tables.
class health_source {
 public:
  virtual backend_health of(std::size_t backend, config::vdir_id vdir) const = 0;

 protected:
  ~health_source() = default;
};

/// How an affinity token influenced the decision (counted and logged by the proxy).
enum class affinity_outcome {
  none,  ///< no token (or affinity not configured)
  hit,   ///< valid: the token's backend goes first
  malformed,
  unknown_key,
  bad_signature,
  expired,
  wrong_mailbox,
  unknown_backend,  ///< valid signature, but the config no longer has that backend
};

std::string_view to_string(affinity_outcome a) noexcept;

enum class vdir_kind { emsmdb, nspi, healthcheck };
enum class route_source { mailbox, domain, default_route };

std::string_view to_string(vdir_kind v) noexcept;
std::string_view to_string(route_source s) noexcept;

struct decision {
  enum class action { proxy, healthcheck, reject };
  action act = action::reject;
  int status = 0;  ///< reject: the HTTP status to answer (400, 401, 404, 405, 421)
  /// reject on /mapi/emsmdb or /mapi/nspi: when non-zero, answer as the protocol does, HTTP 200
  /// with this X-ResponseCode ([MS-OXCMAPIHTTP] 2.2.3.3.3), so Outlook reacts as to Exchange.
  int mapi_code = 0;
  std::string_view reason;           ///< reject: static text for the error body and the log
  std::optional<namespace_kind> ns;  ///< set once the Host matched a namespace
  /// The Exchange vdir the path is under (set with ns once the path matched a published one).
  std::optional<config::vdir_id> workload;
  std::optional<vdir_kind> vdir;  ///< /mapi only: which endpoint
  /// The anchor: /mapi's MailboxId, or another vdir's (routing/anchor.hpp).
  std::optional<mailbox_id> mailbox;
  anchor_source anchor = anchor_source::none;
  /// Autodiscover for a mailbox whose MAPI over HTTP is off (org or mailbox): the request
  /// goes without X-MapiHttpCapability, so the server answers with Outlook Anywhere only.
  bool strip_mapi_capability = false;
  /// An Autodiscover POX POST that nothing in its head anchors: its small body names the
  /// mailbox (EMailAddress). The proxy may read it and decide again with body_email.
  bool wants_body_anchor = false;
  route_source source = route_source::default_route;
  /// proxy: the route's backends in hash order (the first is the mailbox's owner, the rest its
  /// fail-over order), before health is weighed.
  std::vector<std::size_t> candidates;
  /// proxy: the backends to try, in this order: the session's backend (affinity) unless it is
  /// down, then the candidates that are ready, then draining ones (health or config), then down
  /// ones. A request moves on to the next only while not one byte of it was sent.
  std::vector<std::size_t> order;
  /// proxy: the affinity token names a backend that is down (not in `order`): a request other
  /// than Connect/Bind is answered X-ResponseCode 10 at once.
  bool session_backend_down = false;
  affinity_outcome affinity = affinity_outcome::none;
  std::optional<std::size_t> affinity_backend;  ///< hit: the backend holding the session
  std::int64_t affinity_expires = 0;            ///< hit: Unix time the token stops verifying
  bool new_session = false;  ///< Connect (emsmdb) or Bind (nspi): may start anywhere
};

class route_table {
 public:
  /// Compiles the lookup tables. `cfg` must outlive the table (it keeps pointers into it).
  explicit route_table(const config::snapshot& cfg);

  /// Everything about a request the configuration decides, and with `health` (per backend
  /// index; empty: all ready) the order of backends to try. Pure: no I/O, no clock but r.now_unix.
  decision decide(const request_view& r, health_view health = {}) const;
  /// The same with health per vdir.
  decision decide(const request_view& r, const health_source& health) const;

  /// The token codec, or null when affinity is not configured.
  const affinity_codec* affinity() const noexcept { return affinity_ ? &*affinity_ : nullptr; }

 private:
  struct placement {
    config::target to;
    std::string hash_key;  ///< empty: the anchor's own key
  };
  std::vector<std::size_t> candidates_for(const config::target& t, std::string_view key) const;
  bool mapi_enabled_for(const mailbox_id& m) const;
  void apply_affinity(const request_view& r, decision& d) const;
  void order_backends(decision& d, const health_source& health) const;
  /// Which published vdir `path` is under on namespace `ns`; nullopt: 404.
  std::optional<config::vdir_id> vdir_of(std::string_view path, namespace_kind ns) const;
  decision decide_mapi(const request_view& r, decision d, std::string_view rest,
                       std::string_view query, const health_source& health) const;
  decision decide_workload(const request_view& r, decision d, std::string_view rest,
                           std::string_view query, const health_source& health) const;
  /// The request's Authorization scheme (if any) is one the vdir allows.
  bool scheme_allowed(const request_view& r, config::vdir_id v) const;
  /// The route of `m` (mailbox, then domain, then default); null when none.
  const placement* route_of(const mailbox_id* m, decision& d) const;

  const config::snapshot& cfg_;
  namespace_map namespaces_;
  std::unordered_map<std::string, placement> by_mailbox_;
  std::unordered_map<std::string, placement> by_domain_;
  std::optional<placement> default_;
  std::unordered_map<std::string, bool> mapi_enabled_;  ///< per-mailbox overrides
  std::unordered_map<std::string, std::size_t> backend_by_name_;
  std::vector<std::vector<hash_member>> pool_members_;   ///< per config pool, draining excluded
  std::vector<std::vector<hash_member>> pool_draining_;  ///< per config pool, draining only
  std::optional<affinity_codec> affinity_;
};

}  // namespace routing
