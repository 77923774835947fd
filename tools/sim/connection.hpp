// One simulated mailbox-server connection: HTTP/1.1 keep-alive loop, auth, routing, MAPI handling.
//
// Internal header. A connection object lives inside its coroutine's frame and runs only on the
// server's io thread; it borrows the server_state and the transport, both of which outlive it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tools/sim/mapi_sim.hpp"
#include "tools/sim/protocol.hpp"
#include "tools/sim/recorder.hpp"
#include "tools/sim/sessions.hpp"
#include "tools/sim/transport.hpp"
#include "tools/sim/util.hpp"

namespace sim::detail {

struct rpc_channel;

/// What the recorder keeps of a request (its body only when `with_body`).
request_record make_record(std::uint64_t connection_id,
                           const boost::beast::http::request<boost::beast::http::string_body>& req,
                           bool with_body);

/// Everything the connections of one server share. `opts` and `cookies` are immutable;
/// `healthy`, `unhealthy_vdirs` and `records` are thread-safe; `random`, `sessions` and
/// `rpc_channels` are io-thread only.
struct server_state {
  explicit server_state(options o)
      : opts(std::move(o)),
        cookies(names_for(opts.cookies)),
        healthy(opts.healthy),
        sessions(opts.context_expiry, random) {}

  const options opts;
  const cookie_names cookies;
  std::atomic<bool> healthy;
  recorder records;
  random_source random;
  session_store sessions;
  /// One bit per vdir with a healthcheck.htm (front_door.cpp): set = that check answers 503.
  std::atomic<std::uint32_t> unhealthy_vdirs{0};
  /// Outlook Anywhere channels by virtual connection cookie.
  std::unordered_map<std::string, std::shared_ptr<rpc_channel>> rpc_channels;

  /// `vdir`: a path segment ("ews", "rpc", "Microsoft-Server-ActiveSync", ...).
  void set_vdir_healthy(std::string_view vdir, bool healthy);
};

class connection {
 public:
  connection(server_state& state, transport& io, std::uint64_t id)
      : state_(state), io_(io), id_(id) {}

  /// Serves requests until the peer leaves, an error occurs or a response ends the connection;
  /// ends with transport::shutdown(). Never throws for protocol reasons.
  boost::asio::awaitable<void> run();

 private:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  struct auth_result {
    enum class status { ok, challenge, failed, malformed } outcome = status::ok;
    std::string identity;
    std::string challenge;  ///< WWW-Authenticate value for status::challenge
  };

  /// X-RequestType / X-RequestId / X-ClientInfo of a MAPI request, echoed in its response.
  struct mapi_echo {
    std::string request_type, request_id, client_info;
  };

  /// How a successful MAPI response is streamed.
  struct stream_plan {
    std::chrono::milliseconds work{0};  ///< PENDING every pending_period while this lasts
    std::vector<std::string> set_cookies;
    std::shared_ptr<session_context> watched;  ///< NotificationWait: touched, ends if destroyed
  };

  // connection.cpp
  boost::asio::awaitable<bool> handle(request& req);
  /// Whether `identity` ("DOMAIN\\user" or "user") names options::refused_user.
  bool refused(std::string_view identity) const;
  boost::asio::awaitable<bool> healthcheck(const request& req, request_record& record,
                                           bool keep_alive, bool healthy);

  // front_door.cpp
  /// `path` is `/<vdir>/healthcheck.htm` of a vdir with a check: true, with its state.
  bool vdir_health_path(std::string_view path, bool& healthy) const;
  /// Autodiscover, EWS, OAB, ActiveSync, OWA, ECP, PowerShell, and /rpc without a body;
  /// nullopt for a path under none of them.
  boost::asio::awaitable<std::optional<bool>> handle_front_door(request& req,
                                                                request_record& record,
                                                                bool keep_alive);
  /// An Outlook Anywhere leg with a body (RPC_IN_DATA / RPC_OUT_DATA), streamed; the
  /// connection ends with it.
  boost::asio::awaitable<void> handle_rpc(request_parser& parser);
  boost::asio::awaitable<void> reject_unparsable(const request_parser& parser, int status);
  auth_result authenticate(const request& req);
  /// The logon rules of every authenticated endpoint: answers a challenge, a refusal or a
  /// malformed header itself (the send's keep-going result), or nullopt when the request may go on.
  boost::asio::awaitable<std::optional<bool>> require_logon(const request& req,
                                                            request_record& record,
                                                            bool keep_alive);
  boost::asio::awaitable<bool> send_unauthorized(request_record& record, bool keep_alive,
                                                 std::string challenge);
  boost::asio::awaitable<bool> send(response_head head, std::string body, request_record& record,
                                    bool keep_alive);
  boost::asio::awaitable<bool> send_text(int status, std::string body, request_record& record,
                                         bool keep_alive);
  void add_common(response_head& head, bool keep_alive) const;

  // mapi.cpp
  boost::asio::awaitable<bool> handle_mapi(request& req, request_record& record,
                                           endpoint_kind endpoint, bool keep_alive);
  boost::asio::awaitable<bool> send_protocol_error(int code, const mapi_echo& echo,
                                                   request_record& record, bool keep_alive);
  boost::asio::awaitable<bool> send_ping(const mapi_echo& echo, request_record& record,
                                         bool keep_alive);
  boost::asio::awaitable<bool> stream_response(const mapi_echo& echo, stream_plan plan,
                                               request_record& record, bool keep_alive);
  boost::asio::awaitable<bool> write_chunk(std::string_view payload, const mapi_echo& echo);
  void add_mapi_headers(response_head& head, const mapi_echo& echo, int code) const;
  std::string set_cookie(endpoint_kind endpoint, std::string_view name, std::string_view value,
                         bool expire) const;

  server_state& state_;
  transport& io_;
  std::uint64_t id_;
  std::string ntlm_identity_;       ///< identity the connection authenticated as (NTLM type 3)
  bool challenge_pending_ = false;  ///< a type 2 was sent and no type 3 consumed it yet
  std::array<std::uint8_t, 8> challenge_{};  ///< server challenge of the type 2 sent last
};

}  // namespace sim::detail
