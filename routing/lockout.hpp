// Smart lockout at the edge: failed logons counted per user and per client address, in bounded
// tables, so that a password spray or a brute force is answered by mapigate before it reaches
// Active Directory and locks the real user out (AD FS's Extranet Smart Lockout, for Outlook's
// protocols).
//
// - A failure is a request with final credentials (NTLM type 3, Negotiate, Basic) that the
//   backend answered 401; a success is such a request it answered otherwise.
// - An address where the user logged on successfully within `familiar_for` is familiar: it is
//   never held for that user, and its failures do not count towards holding the user.
// - `user_threshold` failures of one user from unfamiliar addresses within `window` hold the
//   user (for unfamiliar addresses) until `window` has passed since the last of them;
//   `address_threshold` failures from one address (any users) hold the address (for every user
//   to whom it is not familiar) likewise. A success resets the user's and the address's count.
// - Exempt addresses (monitoring) are never held.
//
// Memory is bounded whatever clients send: each table has `table_size` slots; a new key takes
// a free slot or evicts the least recently seen among a few candidates, preferring entries
// that hold nothing. Familiar addresses live in their own table, filled only by successes:
// made-up user names cannot push real users' familiar addresses out.
//
// Pure (no I/O, the caller passes the time); thread-safe (sharded mutexes).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/cidr.hpp"

namespace routing {

struct lockout_settings {
  unsigned user_threshold = 5;
  unsigned address_threshold = 30;
  std::chrono::seconds window{10 * 60};
  std::chrono::seconds familiar_for{14 * 24 * 3600};
  std::size_t table_size = 65536;
  std::vector<cidr> exempt;
  /// NetBIOS domain (lower-case) → UPN suffix: `CORP\alice` counts as `alice@corp.test`.
  std::vector<std::pair<std::string, std::string>> domains;
};

enum class lockout_verdict { allow, user_held, address_held };

/// One held key, for the admin API.
struct held_entry {
  std::string key;
  unsigned failures = 0;
  std::int64_t held_until = 0;  ///< Unix seconds
};

class lockout {
 public:
  explicit lockout(lockout_settings s);
  ~lockout();

  /// New settings (a reload): counts and familiar addresses are kept.
  void configure(lockout_settings s);

  /// `CORP\Alice` → `alice@corp.test` (domains), else lower-cased as given.
  std::string canonical_user(std::string_view user) const;

  /// May `user` (canonical) log on from `address` now? Counts nothing.
  lockout_verdict check(std::string_view user, std::string_view address, std::int64_t now) const;
  /// A logon that failed (401) or succeeded; `user` empty when the credentials name nobody
  /// (Kerberos): then only the address counts.
  void failed(std::string_view user, std::string_view address, std::int64_t now);
  void succeeded(std::string_view user, std::string_view address, std::int64_t now);

  /// What is held now, for GET /auth-protection.
  std::vector<held_entry> held_users(std::int64_t now) const;
  std::vector<held_entry> held_addresses(std::int64_t now) const;
  /// Releases a user or an address (the admin's decision); false when it was not held.
  bool release_user(std::string_view user);
  bool release_address(std::string_view address);

  /// Entries in use (for tests and the metrics): never more than table_size each.
  std::size_t users_tracked() const;
  std::size_t addresses_tracked() const;

 private:
  struct table;
  bool exempt(std::string_view address) const;
  bool familiar(std::string_view user, std::string_view address, std::int64_t now) const;

  lockout_settings s_;
  mutable std::mutex settings_mutex_;
  std::unique_ptr<table> users_, addresses_, familiar_;
};

}  // namespace routing
