// Weighted rendezvous (highest-random-weight) hashing: every mapigate instance with the same
// config ranks a pool's members identically for a key, without talking to the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace routing {

/// A stable 64-bit hash (FNV-1a folded through a splitmix64 finaliser). Never std::hash: the
/// result must be the same in every process, build and platform.
std::uint64_t stable_hash(std::string_view s) noexcept;

struct hash_member {
  std::size_t backend = 0;      ///< index into config::snapshot::backends
  std::uint64_t name_hash = 0;  ///< stable_hash(backend name): identity is the name, not the index
  std::uint32_t weight = 100;
};

/// The members of `pool` ordered by descending weighted score for `key`
/// (score = weight / -ln(u), u uniform in (0,1) from hash(key, member)). Removing a member
/// moves only the keys it owned; adding one takes keys only from the others.
std::vector<std::size_t> rank(std::span<const hash_member> pool, std::string_view key);

}  // namespace routing
