// The per-request arena for header fields: where its memory comes from and when it goes back.
#include "proxy/io/field_arena.hpp"

#include <gtest/gtest.h>

#include <string>

namespace proxy {
namespace {

TEST(FieldArena, TakesAWorkerBlockOnlyWhenAFieldIsStoredAndGivesItBack) {
  field_blocks blocks;
  blocks.give(blocks.take());  // one spare block
  ASSERT_EQ(blocks.spare(), 1u);
  {
    field_arena arena(blocks);
    EXPECT_EQ(blocks.spare(), 1u) << "an arena holds no block before its first field";
    relay_fields f(arena.allocator());
    f.set("X-RequestType", "NotificationWait");
    f.set("X-ClientInfo", "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1");
    // The first chunk is exactly one block: taken from the spares, not the heap.
    EXPECT_EQ(blocks.spare(), 0u);
    EXPECT_EQ(f["X-RequestType"], "NotificationWait");
  }
  EXPECT_EQ(blocks.spare(), 1u);
}

TEST(FieldArena, ReleaseReturnsTheBlockAndTheNextFieldTakesOneAgain) {
  field_blocks blocks;
  field_arena arena(blocks);
  {
    relay_fields request(arena.allocator());
    request.set("Host", "mail.corp.test");
    EXPECT_EQ(blocks.spare(), 0u);
  }
  arena.release();  // what forward_request does while a long-poll is held
  EXPECT_EQ(blocks.spare(), 1u);
  {
    relay_fields response(arena.allocator());
    response.set("X-ResponseCode", "0");
    EXPECT_EQ(blocks.spare(), 0u);
    EXPECT_EQ(response["X-ResponseCode"], "0");
  }
  arena.release();
  EXPECT_EQ(blocks.spare(), 1u);
}

TEST(FieldArena, FieldsLargerThanABlockUseTheHeapAndOnlyTheBlockIsKept) {
  field_blocks blocks;
  {
    field_arena arena(blocks);
    relay_fields f(arena.allocator());
    f.set("Host", "mail.corp.test");  // the block
    const std::string token(3 * field_blocks::block_size, 'a');
    f.set("Authorization", "Negotiate " + token);  // a Kerberos-sized field: a heap chunk
    f.set("X-RequestType", "Execute");
    EXPECT_EQ(f["Authorization"].size(), token.size() + 10);
    EXPECT_EQ(f["Host"], "mail.corp.test");
    EXPECT_EQ(f["X-RequestType"], "Execute");
  }
  // The heap chunk went back to the heap (LeakSanitizer checks), the block to the spares.
  EXPECT_EQ(blocks.spare(), 1u);
}

TEST(FieldBlocks, KeepsAtMostMaxSpare) {
  field_blocks blocks;
  std::vector<std::byte*> taken;
  for (std::size_t i = 0; i < field_blocks::max_spare + 3; ++i)
    taken.push_back(blocks.take());
  for (auto* b : taken)
    blocks.give(b);
  EXPECT_EQ(blocks.spare(), field_blocks::max_spare);
}

}  // namespace
}  // namespace proxy
