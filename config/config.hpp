// Immutable configuration snapshot: what mapigate.yaml says, validated and resolved.
//
// Contract: a snapshot is built once by config::load_* (loader.hpp), never modified afterwards,
// and shared between threads as std::shared_ptr<const snapshot>. It holds no yaml-cpp, Asio or
// OpenSSL types, so every folder may include this header cheaply. Names that refer to other
// entries (pool members, route targets) are resolved to indexes into the vectors below; an index
// is always valid for the snapshot it came from.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace config {

using duration = std::chrono::milliseconds;

/// host:port as written in the config. `host` is an IP literal or a DNS name (IPv6 without
/// brackets); it is only ever resolved by the proxy, never taken from a client.
struct endpoint {
  std::string host;
  std::uint16_t port = 0;
};

enum class tls_version { tls1_2, tls1_3 };

struct certificate {
  std::string cert_file;  ///< PEM chain, leaf first
  std::string key_file;   ///< PEM private key
  /// Where `cert:` is in the configuration file (1-based; 0: not from a file), so that what
  /// is wrong with the certificate itself is reported at file:line:col as well.
  int line = 0, col = 0;
};

struct listener_tls {
  /// First entry is the default (no SNI, or SNI that no certificate names). Otherwise the entry
  /// whose certificate names (SAN dNSName, or CN when there is no SAN) match SNI wins.
  std::vector<certificate> certificates;
  tls_version min_version = tls_version::tls1_2;
  std::vector<std::string> alpn{"http/1.1"};  ///< server preference order
  /// TLS 1.2 cipher list, OpenSSL syntax (SSL_CTX_set_cipher_list). Default: Mozilla's
  /// "intermediate" profile (v5.7): ECDHE/DHE with AES-GCM or ChaCha20-Poly1305, no CBC suite.
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
      "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
  /// TLS 1.3 suites, OpenSSL syntax (SSL_CTX_set_ciphersuites): RFC 8446 names, ':'-separated.
  std::string ciphersuites =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
      "TLS_CHACHA20_POLY1305_SHA256";
  /// Key-exchange groups in preference order, as OpenSSL names them (SSL_CTX_set1_groups_list).
  std::vector<std::string> curves{"X25519", "prime256v1", "secp384r1"};
  /// Session ticket keys shared by every instance (resolved paths; 48 or 80 bytes each, as
  /// nginx's ssl_session_ticket_key): the first encrypts, all decrypt; read again on reload.
  /// Empty: OpenSSL's per-process keys (resumption does not survive another instance).
  std::vector<std::string> ticket_key_files;
  /// How long a session (ticket or TLS 1.2 session ID) may be resumed.
  duration session_lifetime{2 * 3600 * 1000};
};

/// PROXY protocol versions a listener accepts (HAProxy's spec): the client's real address
/// from an L4 balancer.
enum class proxy_protocol { off, v1, v2, any };

struct listener {
  std::string name;
  endpoint address;
  std::optional<listener_tls> tls;  ///< absent: plain HTTP (offload behind another TLS hop)
  /// Not off: every connection must begin with a PROXY header, and only from
  /// `trusted_sources`; its source address is the client's for logs, metrics and limits.
  enum proxy_protocol proxy_protocol = proxy_protocol::off;
  std::vector<std::string> trusted_sources;  ///< CIDR networks (validated), required with it
  /// L7 hops (another reverse proxy, a WAF) whose X-Forwarded-For is believed: from a peer in
  /// these networks, the client is the right-most X-Forwarded-For entry outside them.
  std::vector<std::string> trusted_proxies;
};

/// One URL of the /mapi virtual directory, as Set-MapiVirtualDirectory -InternalUrl/-ExternalUrl.
struct vdir_url {
  std::string url;     ///< as written
  std::string scheme;  ///< "https" or "http"
  std::string host;    ///< lower-cased
  std::uint16_t port = 443;
  std::string path;  ///< e.g. "/mapi" (no trailing slash)
};

/// Authentication methods of a vdir (Set-*VirtualDirectory -IISAuthenticationMethods).
/// `forms`: Outlook on the web's forms login (the credentials are in the login form's body,
/// never in an Authorization field): mapigate passes it through.
enum class auth_scheme { ntlm, negotiate, basic, oauth, forms };

struct mapi_vdir {
  std::optional<vdir_url> internal_url;
  std::optional<vdir_url> external_url;  ///< at least one of the two is set
  /// More host names of each namespace (`namespaces:`), e.g. Autodiscover's own
  /// autodiscover.<domain>: lower-cased, no port.
  std::vector<std::string> internal_aliases, external_aliases;
  /// Set-OrganizationConfig -MapiHttpEnabled: false answers every MAPI request with
  /// X-ResponseCode 16 (Endpoint Disabled) without contacting a backend.
  bool mapi_http_enabled = true;
  /// Allowed schemes, no duplicates; Exchange 2016+'s default is NTLM, OAuth, Negotiate.
  std::vector<auth_scheme> authentication{auth_scheme::ntlm, auth_scheme::oauth,
                                          auth_scheme::negotiate};
};

/// Exchange's virtual directories, as Get-*VirtualDirectory names them. /mapi is configured by
/// `mapi:`, the others by `vdirs:`; the value indexes snapshot::vdirs.
enum class vdir_id : std::uint8_t {
  mapi,
  autodiscover,
  ews,
  oab,
  rpc,
  activesync,
  owa,
  ecp,
  powershell
};
inline constexpr std::size_t vdir_count = 9;

/// What the configuration and the logs call each vdir, and where it lives.
struct vdir_name {
  std::string_view key;     ///< under `vdirs:`, and the metrics' vdir label
  std::string_view path;    ///< Exchange's path (matched case-insensitively); /mapi: mapi's URLs
  std::string_view folder;  ///< HttpProxy\<folder> for its log records
};
inline constexpr std::array<vdir_name, vdir_count> vdir_names{{
    {"mapi", "/mapi", "Mapi"},
    {"autodiscover", "/Autodiscover", "Autodiscover"},
    {"ews", "/EWS", "Ews"},
    {"oab", "/OAB", "Oab"},
    {"rpc", "/rpc", "RpcHttp"},
    {"activesync", "/Microsoft-Server-ActiveSync", "Eas"},
    {"owa", "/owa", "Owa"},
    {"ecp", "/ecp", "Ecp"},
    {"powershell", "/PowerShell", "PowerShell"},
}};

/// Which namespaces publish a vdir (`/ecp` and `/PowerShell` internal only is the usual
/// hardening since ProxyShell).
enum class publish_scope : std::uint8_t { both, internal, external };

/// One published vdir. /mapi's authentication and body limit are `mapi.authentication` and
/// `limits.mapi_body_bytes` (vdir_authentication(), vdir_body_limit() below).
struct vdir_settings {
  bool enabled = false;  ///< published at all; off: every path under it is 404
  publish_scope publish = publish_scope::both;
  std::vector<auth_scheme> authentication;  ///< Authorization schemes let through
  std::uint64_t body_limit = 0;             ///< request body bytes; over it: 413
  /// Replaces timeouts.body_idle and timeouts.upstream_idle on this vdir (Outlook Anywhere's
  /// legs and ActiveSync's Ping are quiet for minutes); absent: the global ones.
  std::optional<duration> idle_timeout;
  /// Its active check on every backend (health.active on): GET this path, 200 passes; empty:
  /// no check of its own (the backend's /mapi check stands for it).
  std::string health_path;
};

/// Set-CasMailbox -MapiHttpEnabled for one mailbox: overrides the organisation setting.
struct mailbox_policy {
  std::string mailbox;  ///< MailboxId (GUID@domain) or SMTP address, lower-cased
  bool mapi_http_enabled = true;
};

/// Signed affinity tokens (routing/affinity.hpp). Absent section: no tokens, hashing only.
struct affinity {
  std::string cookie_name = "MapigateAffinity";  ///< RFC 6265 token characters
  /// Secret keys read from key_files (whitespace at the end of a file trimmed), each at least
  /// 32 bytes. The first signs; all verify, so keys rotate without a flag day.
  std::vector<std::string> keys;
  std::vector<std::string> key_files;  ///< resolved paths, for diagnostics
  duration max_age{12 * 3600 * 1000};  ///< a token older than this is ignored
};

struct backend_tls {
  std::string ca_file;  ///< empty: system trust store
  std::string sni;      ///< empty: the backend's address host
  bool verify = true;   ///< verify chain and name (sni, or address host)
};

/// active: takes new sessions. draining: keeps the sessions whose affinity token names it, gets
/// no new ones (unless every member of a pool is draining).
enum class backend_state { active, draining };

/// The active health check of one backend (when health.active is on). Exchange publishes
/// GET /mapi/healthcheck.htm → 200 with its FQDN; other MAPI servers publish another page or
/// none, so path and expectation are per backend, and the check can be off for one.
struct health_check {
  bool enabled = true;
  std::string path = "/mapi/healthcheck.htm";  ///< origin-form: '/' then visible ASCII
  unsigned status = 200;                       ///< the status that passes
  std::string body;                            ///< text the body must contain ("": any body)
};

struct backend {
  std::string name;  ///< the id tests, logs and affinity tokens use; never an address
  /// The host name the HttpProxy log's TargetServer column shows (Exchange logs the mailbox
  /// server's FQDN there); empty: `name`.
  std::string fqdn;
  endpoint address;
  std::optional<backend_tls> tls;  ///< absent: plain HTTP to the backend
  std::uint32_t weight = 100;      ///< rendezvous-hash weight, 1..10000
  backend_state state = backend_state::active;
  struct health_check check;
};

struct pool {
  std::string name;
  std::vector<std::size_t> members;  ///< indexes into snapshot::backends, no duplicates
};

enum class target_kind { pool, backend };

struct target {
  target_kind kind = target_kind::pool;
  std::size_t index = 0;  ///< into snapshot::pools or snapshot::backends
};

enum class route_kind { mailbox, domain };

/// An explicit placement. `key` is lower-cased: for `mailbox` the full MailboxId
/// (`<guid>@<domain>` or an SMTP address), for `domain` the part after '@'.
struct route {
  route_kind kind = route_kind::mailbox;
  std::string key;
  target to;
  /// A mailbox route listing several anchors of one mailbox (its SMTP address and its
  /// MailboxId GUID): all hash by the first, so every protocol meets the same pool member.
  /// Empty: `key`.
  std::string hash_key;
};

/// Every wait in the data path has one of these deadlines (style-anchors G4).
struct timeouts {
  duration handshake{10'000};           ///< client TLS handshake
  duration header_read{30'000};         ///< whole request head, first byte to blank line
  duration keepalive_idle{120'000};     ///< between requests on a client connection
  duration body_idle{60'000};           ///< between two reads of a client request body
  duration client_write{60'000};        ///< one write to the client making no progress
  duration upstream_connect{5'000};     ///< TCP connect + TLS handshake to a backend
  duration upstream_idle{120'000};      ///< between two reads from a backend (> PENDING period)
  duration upstream_keepalive{30'000};  ///< an idle pooled backend connection is closed after this
  duration drain{30'000};               ///< on SIGTERM, in-flight requests get this long to finish
  /// On SIGTERM, keep accepting this long first (health checks answer 503, responses close
  /// their connections) so that a balancer stops choosing the instance before it refuses.
  duration accept_grace{0};
};

struct limits {
  std::size_t header_bytes = 16 * 1024;              ///< request head; over it: 431
  std::size_t mapi_body_bytes = 4 * 1024 * 1024;     ///< /mapi request body; over it: 413
  std::size_t max_requests_per_connection = 10'000;  ///< then Connection: close
  std::size_t upstream_idle_per_backend = 64;        ///< pooled idle connections per worker
  std::size_t max_client_connections = 100'000;      ///< per process; beyond it accept waits
  std::uint32_t h2_max_concurrent_streams = 100;     ///< per HTTP/2 connection (SETTINGS)
};

/// Exchange-style HttpProxy request logs (accesslog/). Absent section: no request logs.
struct request_log {
  std::string directory;  ///< resolved path; files go to <directory>/HttpProxy/<Protocol>/
  std::uint64_t max_file_bytes = 10ull << 20;      ///< a new -N file beyond this
  std::uint64_t max_directory_bytes = 1ull << 30;  ///< every protocol folder: oldest files go
  duration max_age{30ll * 24 * 3600 * 1000};       ///< files older than this go
  std::size_t queue_records = 65536;               ///< beyond this, records are dropped (counted)
};

/// The admin listener: /metrics, /healthz, /readyz, /backends. Plain HTTP on loopback unless
/// configured otherwise; never on the data listeners.
struct admin {
  endpoint address{"127.0.0.1", 9464};
  /// Non-empty: every path except /healthz and /readyz needs `Authorization: Bearer <token>`.
  std::string token;
  std::string token_file;  ///< resolved path, for diagnostics
};

/// Backend health: active checks (GET /mapi/healthcheck.htm, as Exchange's load balancer
/// guidance uses) and passive ejection on repeated failures.
struct health {
  bool active = true;
  duration interval{5'000};
  duration timeout{2'000};
  unsigned rise = 2;  ///< consecutive passes that bring a down backend back
  unsigned fall = 3;  ///< consecutive failures that take an up backend out
  /// Consecutive connect failures or 5xx answers that eject a backend for eject_for (0: never).
  unsigned eject_after = 5;
  duration eject_for{30'000};
};

/// Smart lockout at the edge (routing/lockout.hpp): failed logons per user and per client
/// address, held before they reach Active Directory. Absent section: off.
struct auth_protection {
  unsigned user_threshold = 5;      ///< failures from unfamiliar addresses that hold a user
  unsigned address_threshold = 30;  ///< failures from one address (any users); 0: off
  duration window{10 * 60 * 1000};  ///< counting window and hold time
  duration familiar_for{14ll * 24 * 3600 * 1000};  ///< a success makes an address familiar
  std::size_t table_size = 65536;                  ///< slots per table: the memory bound
  std::vector<std::string> exempt;                 ///< CIDR networks never held (validated)
  /// NetBIOS domain (lower-case) → UPN suffix (lower-case): ties `CORP\alice` to
  /// `alice@corp.test`.
  std::vector<std::pair<std::string, std::string>> domains;
};

struct snapshot {
  std::string source;       ///< file name the snapshot was read from
  unsigned workers = 0;     ///< 0: one per hardware thread
  std::string server_name;  ///< our own name: healthcheck body, logs
  std::vector<listener> listeners;
  mapi_vdir mapi;
  /// By vdir_id; [mapi] is always published (its URLs, authentication and limit are `mapi:`'s).
  std::array<vdir_settings, vdir_count> vdirs;
  std::vector<backend> backends;
  std::vector<pool> pools;
  std::vector<route> routes;
  std::optional<target> default_route;
  std::vector<mailbox_policy> mailboxes;  ///< no duplicate mailbox
  std::optional<struct affinity> affinity;
  struct timeouts timeouts;
  struct limits limits;
  std::optional<request_log> logs;
  struct health health;
  std::optional<struct auth_protection> auth_protection;
  /// Absent only when the YAML says `admin: {enabled: false}` (or in snapshots built in code).
  std::optional<struct admin> admin;
};

using snapshot_ptr = std::shared_ptr<const snapshot>;

/// The Authorization schemes vdir `v` lets through.
inline const std::vector<auth_scheme>& vdir_authentication(const snapshot& s, vdir_id v) {
  return v == vdir_id::mapi ? s.mapi.authentication : s.vdirs[std::size_t(v)].authentication;
}
/// The largest request body vdir `v` takes.
inline std::uint64_t vdir_body_limit(const snapshot& s, vdir_id v) {
  return v == vdir_id::mapi ? s.limits.mapi_body_bytes : s.vdirs[std::size_t(v)].body_limit;
}

}  // namespace config
