// The routing decision for one request: namespace, vdir, policy checks and the ordered list of
// backends that may serve it. Pure: no I/O, no clock, no shared state; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "routing/mailbox_id.hpp"
#include "routing/namespaces.hpp"
#include "routing/rendezvous.hpp"

namespace routing {

/// What the proxy knows about a request once its head is parsed.
struct request_view {
  std::string_view method;  ///< as received, e.g. "POST"
  std::string_view target;  ///< request-target as received, e.g. "/mapi/emsmdb/?MailboxId=…"
  std::optional<std::string_view> host;  ///< Host header value, if present (exactly one)
  std::optional<std::string_view> sni;   ///< TLS server name, if the client sent one
};

enum class vdir_kind { emsmdb, nspi, healthcheck };
enum class route_source { mailbox, domain, default_route };

std::string_view to_string(vdir_kind v) noexcept;
std::string_view to_string(route_source s) noexcept;

struct decision {
  enum class action { proxy, healthcheck, reject };
  action act = action::reject;
  int status = 0;                    ///< reject: the HTTP status to answer (400, 404, 405, 421)
  std::string_view reason;           ///< reject: static text for the error body and the log
  std::optional<namespace_kind> ns;  ///< set once the Host matched a namespace
  std::optional<vdir_kind> vdir;
  std::optional<mailbox_id> mailbox;
  route_source source = route_source::default_route;
  /// proxy: backend indexes in preference order (the first is the owner, the rest are the
  /// fail-over order). Never empty for action::proxy.
  std::vector<std::size_t> candidates;
};

class route_table {
 public:
  /// Compiles the lookup tables. `cfg` must outlive the table (it keeps pointers into it).
  explicit route_table(const config::snapshot& cfg);

  decision decide(const request_view& r) const;

 private:
  std::vector<std::size_t> candidates_for(const config::target& t, std::string_view key) const;

  const config::snapshot& cfg_;
  namespace_map namespaces_;
  std::unordered_map<std::string, config::target> by_mailbox_;
  std::unordered_map<std::string, config::target> by_domain_;
  std::vector<std::vector<hash_member>> pool_members_;  ///< per config pool
};

}  // namespace routing
