// Rendezvous hashing: stability, spread, weights, minimal disruption.
#include "routing/rendezvous.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace routing {
namespace {

std::vector<hash_member> members(std::initializer_list<std::pair<const char*, std::uint32_t>> m) {
  std::vector<hash_member> out;
  std::size_t i = 0;
  for (auto [name, w] : m)
    out.push_back({i++, stable_hash(name), w});
  return out;
}

TEST(Rendezvous, StableHashIsFixedAcrossBuilds) {
  // Pinned values (computed independently): two mapigate builds must agree, or every mailbox
  // would move to another server on an upgrade.
  EXPECT_EQ(stable_hash(""), 0xc3817c016ba4ff30ULL);
  EXPECT_EQ(stable_hash("mbx01"), 0x6e037e5b788c650bULL);
  EXPECT_EQ(stable_hash("416c6368-656d-794a-6f45-57615272456e@contoso.com"), 0x064c4c33e5f011f1ULL);
}

TEST(Rendezvous, RanksEveryMemberOnceAndDeterministically) {
  auto pool = members({{"mbx01", 100}, {"mbx02", 100}, {"mbx03", 100}});
  auto a = rank(pool, "user1@example.test");
  auto b = rank(pool, "user1@example.test");
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 3u);
  std::vector<std::size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(Rendezvous, OrderOfConfigDoesNotMatter) {
  // Identity is the backend name: two instances listing the pool in different orders agree.
  auto ab = members({{"mbx01", 100}, {"mbx02", 100}});
  std::vector<hash_member> ba = {{1, stable_hash("mbx02"), 100}, {0, stable_hash("mbx01"), 100}};
  for (int i = 0; i < 200; ++i) {
    const auto key = "user" + std::to_string(i) + "@example.test";
    EXPECT_EQ(rank(ab, key).front(), rank(ba, key).front()) << key;
  }
}

TEST(Rendezvous, SpreadsKeysAndHonoursWeights) {
  auto pool = members({{"mbx01", 100}, {"mbx02", 100}, {"mbx03", 200}});
  std::map<std::size_t, int> owners;
  const int n = 20000;
  for (int i = 0; i < n; ++i)
    ++owners[rank(pool, "u" + std::to_string(i) + "@x.test").front()];
  // Expected shares 25/25/50 %; allow a generous band (this is a distribution, not timing).
  EXPECT_NEAR(owners[0], n / 4, n / 20);
  EXPECT_NEAR(owners[1], n / 4, n / 20);
  EXPECT_NEAR(owners[2], n / 2, n / 20);
}

TEST(Rendezvous, RemovingAMemberMovesOnlyItsKeys) {
  auto three = members({{"mbx01", 100}, {"mbx02", 100}, {"mbx03", 100}});
  std::vector<hash_member> two = {three[0], three[2]};
  int moved_wrongly = 0;
  for (int i = 0; i < 5000; ++i) {
    const auto key = "k" + std::to_string(i) + "@x.test";
    const auto before = rank(three, key).front();
    const auto after = rank(two, key).front();
    if (before != 1 && before != after) ++moved_wrongly;
    if (before == 1) {
      EXPECT_EQ(after, rank(three, key)[1]);  // fail-over = the next in rank
    }
  }
  EXPECT_EQ(moved_wrongly, 0);
}

}  // namespace
}  // namespace routing
