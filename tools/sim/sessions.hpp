// Session contexts (Connect/Bind … Disconnect/Unbind) with sequence cookies and idle expiry.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/util.hpp"

namespace sim::detail {

enum class endpoint_kind { emsmdb, nspi };

struct cookie_names {
  std::string_view context;
  std::string_view sequence;
};
cookie_names names_for(cookie_style style);

/// One Session Context. Shared (shared_ptr) between the store and the requests running on it so
/// a request in flight survives Disconnect/expiry; io thread only.
struct session_context {
  std::string id;        ///< value of the context cookie
  std::string sequence;  ///< current value of the sequence cookie
  std::string identity;  ///< auth identity of the creator ("" anonymous)
  endpoint_kind endpoint = endpoint_kind::emsmdb;
  bool busy = false;  ///< a non-NotificationWait request is running on it
  int waits = 0;      ///< NotificationWaits running on it
  bool destroyed = false;
  std::chrono::steady_clock::time_point last_used;
};

/// All contexts of one server. Not thread-safe: io thread only. A context idle (no request
/// running) for longer than `expiry` is removed on the next lookup or creation.
class session_store {
 public:
  session_store(std::chrono::milliseconds expiry, random_source& random);

  std::shared_ptr<session_context> create(endpoint_kind endpoint, std::string identity);
  /// nullptr when unknown or expired (an expired context is removed).
  std::shared_ptr<session_context> find(std::string_view id);
  /// Removes the context and marks it destroyed; no-op when unknown.
  void destroy(const std::shared_ptr<session_context>& context);
  /// Refreshes the idle timer.
  void touch(session_context& context) const;
  /// Issues a fresh sequence value and returns it.
  const std::string& rotate_sequence(session_context& context);
  std::size_t size() const { return contexts_.size(); }

 private:
  bool expired(const session_context& context, std::chrono::steady_clock::time_point now) const;
  void sweep();

  std::chrono::milliseconds expiry_;
  random_source& random_;
  std::unordered_map<std::string, std::shared_ptr<session_context>> contexts_;
};

}  // namespace sim::detail
