// The request body queue of an HTTP/2 stream: order, partial takes, and bounded storage for a
// body that never drains.
#include "proxy/h2/chunk_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace proxy::h2 {
namespace {

std::vector<std::string> contents(const chunk_queue& q) {
  return {q.begin(), q.end()};
}

TEST(ChunkQueue, StartsEmptyWithoutStorage) {
  chunk_queue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.begin(), q.end());
  EXPECT_EQ(q.stored(), 0u);
}

TEST(ChunkQueue, KeepsArrivalOrderThroughPartialAndWholeTakes) {
  chunk_queue q;
  q.emplace_back("ab");
  q.emplace_back("cd");
  q.emplace_back("ef");
  EXPECT_EQ(contents(q), (std::vector<std::string>{"ab", "cd", "ef"}));
  q.front().erase(0, 1);  // part of the first chunk went
  EXPECT_EQ(contents(q), (std::vector<std::string>{"b", "cd", "ef"}));
  q.pop_front();
  EXPECT_EQ(q.front(), "cd");
  q.emplace_back("gh");
  EXPECT_EQ(contents(q), (std::vector<std::string>{"cd", "ef", "gh"}));
  q.pop_front();
  q.pop_front();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stored(), 0u) << "drained: nothing kept";
  q.emplace_back("ij");
  EXPECT_EQ(contents(q), (std::vector<std::string>{"ij"}));
}

TEST(ChunkQueue, ABodyThatNeverDrainsKeepsBoundedStorageAndItsOrder) {
  chunk_queue q;
  std::size_t next_in = 0, next_out = 0, most = 0;
  for (int round = 0; round < 10000; ++round) {
    q.emplace_back(std::to_string(next_in++));
    if (round % 3 != 0) q.emplace_back(std::to_string(next_in++));
    while (next_in - next_out > 2) {  // the backend takes all but the last two
      ASSERT_EQ(q.front(), std::to_string(next_out));
      q.pop_front();
      ++next_out;
    }
    most = std::max(most, q.stored());
  }
  EXPECT_LE(most, 40u) << "taken chunks must not pile up in the vector";
  EXPECT_EQ(contents(q),
            (std::vector<std::string>{std::to_string(next_out), std::to_string(next_out + 1)}));
}

TEST(ChunkQueue, ClearDropsEverything) {
  chunk_queue q;
  for (int i = 0; i < 20; ++i)
    q.emplace_back("x");
  q.pop_front();
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stored(), 0u);
}

}  // namespace
}  // namespace proxy::h2
