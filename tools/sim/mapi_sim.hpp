// MAPI/HTTP mailbox-server simulator (integration tests, demo, benchmarks): public API.
//
// Contract: a sim::server owns one io_context running on one private thread (started by start(),
// joined by stop()). Every connection is served by one coroutine on that thread; all protocol
// state (session contexts, NTLM connection identities) lives on it. The observation functions
// (requests(), writes(), wait_for_*(), ...) may be called from any thread: they copy out of a
// mutex-protected recorder. This header deliberately includes no Asio/Beast/OpenSSL headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sim {

/// Cookie names used for the session context and the request sequence.
/// mapi: MapiContext / MapiSequence (third-party clients); sid: sid / sequence (grommunio gromox).
enum class cookie_style { mapi, sid };

struct options {
  std::string name = "mbx01";  ///< sent as `X-BEServer: <name>` on EVERY response; healthcheck body
  std::string address = "127.0.0.1";  ///< IP literal or resolvable host name
  std::uint16_t port = 0;             ///< 0 = ephemeral
  std::string cert_file, key_file;    ///< both set → TLS (1.2+); both empty → plain HTTP
  cookie_style cookies = cookie_style::mapi;
  std::chrono::milliseconds pending_period{30000};      ///< X-PendingPeriod and PENDING interval
  std::chrono::milliseconds notification_wait{300000};  ///< NotificationWait length, then DONE
  std::chrono::milliseconds execute_delay{0};  ///< Execute / NSPI query processing time (PENDING)
  std::chrono::milliseconds context_expiry{900000};  ///< X-ExpirationInfo; idle contexts expire
  std::size_t response_body_bytes = 64;              ///< binary body after the DONE meta headers
  /// true: a MAPI request without usable credentials gets 401 with `WWW-Authenticate: NTLM` and
  /// `WWW-Authenticate: Basic realm="<name>"`.
  bool require_auth = false;
  /// Credentials naming this user (the user part, ASCII case-insensitive) are refused with 401,
  /// as a wrong password is; empty: every password is accepted.
  std::string refused_user;
  /// Non-empty: the one password every user has. Basic must carry it, and an NTLM type 3 must
  /// carry the NTLMv2 response it gives for this connection's challenge (routing::ntlm::verify_v2);
  /// anything else is refused with 401. Empty: the framing is checked, not the password.
  std::string password;
  bool healthy = true;                             ///< initial GET /mapi/healthcheck.htm state
  std::chrono::milliseconds idle_timeout{150000};  ///< keep-alive idle / read / write deadline
};

struct header {
  std::string name, value;  ///< name EXACTLY as received (case preserved)
};

/// One HTTP request as the simulator saw it. Appended when the response head is about to be
/// written (so a long streamed response is visible while it is still running).
struct request_record {
  std::uint64_t connection_id = 0;  ///< 1, 2, ... per accepted TCP connection
  std::string method, target;       ///< target as received, e.g. "/mapi/emsmdb/?MailboxId=x@y"
  std::vector<header> headers;      ///< in order received
  std::string body;                 ///< exact bytes
  std::string identity;  ///< "DOMAIN\\user" (NTLM type 3), "user" (Basic) or "" (anonymous)
  int http_status = 0;
  int response_code = -1;  ///< X-ResponseCode sent, -1 when none
};

/// One chunk written on a streamed (chunked) MAPI response. The terminating zero-length chunk is
/// recorded too, with empty data.
struct write_event {
  std::uint64_t connection_id = 0;
  std::string request_id;  ///< X-RequestId of the request
  std::string data;        ///< the chunk's payload, e.g. "PROCESSING\r\n", "PENDING\r\n"
  std::chrono::steady_clock::time_point at;  ///< taken right after the write completed
};

class server {
 public:
  explicit server(options opts);
  ~server();  ///< stops if running
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens (throws std::runtime_error on failure, including a cert without a key or
  /// unreadable TLS files), then runs the io_context on a private thread. Call at most once.
  void start();
  /// Closes the listener and all connections and joins the thread. Idempotent; callable from any
  /// thread except the server's own.
  void stop();
  std::uint16_t port() const;  ///< the bound port (valid after start)
  const std::string& name() const;
  void set_healthy(bool healthy);  ///< thread-safe
  /// One vdir's own check (`/<vdir>/healthcheck.htm`: "ews", "rpc", "autodiscover", ...)
  /// answers 503 while off, whatever set_healthy says of the others. Thread-safe.
  void set_vdir_healthy(std::string_view vdir, bool healthy);
  const options& config() const;  ///< the options given to the constructor

  // Observation, all thread-safe, returning copies.
  std::vector<request_record> requests() const;
  std::vector<write_event> writes() const;
  std::uint64_t connections_accepted() const;
  std::uint64_t connections_open() const;
  bool connection_closed(std::uint64_t connection_id) const;

  // Wait helpers for tests: condition_variable with a deadline; false on timeout.
  bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_writes(std::size_t count, std::chrono::milliseconds timeout) const;
  bool wait_for_connection_closed(std::uint64_t connection_id,
                                  std::chrono::milliseconds timeout) const;
  /// Forgets recorded requests and writes (connection counters and closed ids are kept).
  void clear_records();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The mailbox GUID the simulator's Autodiscover hands out for `smtp` (in the MAPI URLs'
/// MailboxId and Outlook Anywhere's EXCH server): derived from the address, the same in every
/// process.
std::string mailbox_guid_for(std::string_view smtp);

/// Base64 NTLM NEGOTIATE (type 1) message with NEGOTIATE_UNICODE set, for an Authorization header.
std::string ntlm_type1_b64();
/// Base64 NTLM AUTHENTICATE (type 3) message carrying `domain` and `user` (UTF-8 in, UTF-16LE on
/// the wire, NEGOTIATE_UNICODE set) with dummy LM/NT responses. The simulator accepts any response.
std::string ntlm_type3_b64(std::string_view domain, std::string_view user);

}  // namespace sim
