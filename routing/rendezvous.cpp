// Weighted rendezvous hashing.
#include "routing/rendezvous.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace routing {
namespace {

constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t stable_hash(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return splitmix64(h);
}

std::vector<std::size_t> rank(std::span<const hash_member> pool, std::string_view key) {
  const std::uint64_t key_hash = stable_hash(key);
  std::vector<std::pair<double, std::size_t>> scored;
  scored.reserve(pool.size());
  for (const auto& m : pool) {
    const std::uint64_t h = splitmix64(key_hash ^ splitmix64(m.name_hash));
    // 53 random bits → u in (0, 1): never 0, never 1, so the logarithm is finite and negative.
    const double u = (double(h >> 11) + 0.5) / 9007199254740992.0;
    scored.emplace_back(double(m.weight) / -std::log(u), m.backend);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::size_t> order;
  order.reserve(scored.size());
  for (const auto& s : scored)
    order.push_back(s.second);
  return order;
}

}  // namespace routing
