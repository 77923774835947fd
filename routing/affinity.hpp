// Signed affinity tokens: which backend holds a mailbox's MAPI session context, carried by the
// client in a cookie so that any mapigate instance with the same keys sends it back there.
//
// Token (cookie value, RFC 6265 cookie-octets only):
//   base64url(payload) "." base64url(HMAC-SHA256(key, payload))       (no padding)
//   payload = "1" LF key-id LF issued LF backend LF mailbox
// key-id: first 8 hex digits of SHA-256(key); issued: Unix seconds (decimal); backend: the
// configured backend *name* (never an address); mailbox: the lower-cased MailboxId it was
// issued for. Pure: OpenSSL's libcrypto for HMAC/SHA-256 only, no I/O, no clock (callers pass
// `now`). Thread-safe: const after construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace routing {

enum class token_verdict {
  valid,
  malformed,      ///< not two base64url parts, wrong field count or version, bad number
  unknown_key,    ///< key id matches none of the configured keys (retired or foreign)
  bad_signature,  ///< MAC does not verify: forged or truncated
  expired,        ///< older than max_age, or issued more than 5 minutes in the future
  wrong_mailbox,  ///< issued for another MailboxId
};

std::string_view to_string(token_verdict v) noexcept;

class affinity_codec {
 public:
  /// `keys`: secrets, at least one; keys[0] signs, every key verifies. Throws
  /// std::invalid_argument when `keys` is empty or `max_age` is negative.
  affinity_codec(std::vector<std::string> keys, std::chrono::seconds max_age);

  /// A token naming `backend` for `mailbox` (lower-cased by the caller), issued at `now`.
  /// The token verifies only if `backend` is a name ([A-Za-z0-9._-]+), `mailbox` has no LF,
  /// `now_unix` >= 0 and the token fits in 1024 bytes. Throws std::runtime_error only if
  /// libcrypto fails (out of memory); so does verify.
  std::string issue(std::string_view backend, std::string_view mailbox,
                    std::int64_t now_unix) const;

  /// Checks `token` for a request for `mailbox` at `now`. On valid, `backend` is the name the
  /// token carries (the caller checks that the config still has it) and `*issued_at` (when
  /// given) its issue time; otherwise `backend` is cleared.
  /// Tokens over 1024 bytes are malformed. Checks run in this order, so a forged token learns
  /// nothing about the fields: structure (malformed), key id (unknown_key), MAC
  /// (bad_signature), then the signed fields (malformed, expired, wrong_mailbox).
  token_verdict verify(std::string_view token, std::string_view mailbox, std::int64_t now_unix,
                       std::string& backend, std::int64_t* issued_at = nullptr) const;

  std::int64_t max_age() const noexcept { return max_age_; }

 private:
  struct key {
    std::string secret;
    std::string id;  ///< 8 hex digits
  };
  std::vector<key> keys_;
  std::int64_t max_age_;
};

}  // namespace routing
