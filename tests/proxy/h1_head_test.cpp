// Table tests for the strict request-head scanner.
#include "proxy/h1_head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace proxy {
namespace {

using st = head_scan::state;

TEST(H1Head, Classifies) {
  struct scan_case {
    const char* name;
    std::string head;
    st result;
  };
  const scan_case cases[] = {
      {"complete", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", st::complete},
      {"partial", "POST / HTTP/1.1\r\nHost: a\r\n", st::need_more},
      {"partial CR", "POST / HTTP/1.1\r\nHost: a\r", st::need_more},
      {"bare LF", "POST / HTTP/1.1\nHost: a\n\n", st::bad},
      {"bare LF in field", "POST / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", st::bad},
      {"bare CR", "POST / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", st::bad},
      {"obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", st::bad},
      {"obs-fold tab", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", st::bad},
      {"two CL", "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", st::bad},
      {"CL and TE", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       st::bad},
      {"space before colon", "POST / HTTP/1.1\r\nHost : a\r\n\r\n", st::bad},
      {"no colon", "POST / HTTP/1.1\r\nHost a\r\n\r\n", st::bad},
      {"NUL", std::string("POST / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27), st::bad},
      {"CTL in value",
       "POST / HTTP/1.1\r\nX: a\x01"
       "b\r\n\r\n",
       st::bad},
      {"empty request line", "\r\nHost: a\r\n\r\n", st::bad},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = scan_request_head(c.head, 16 * 1024);
    EXPECT_EQ(r.result, c.result) << r.reason;
    if (c.result == st::complete) {
      EXPECT_EQ(r.length, c.head.size());
    }
  }
}

TEST(H1Head, LengthExcludesBody) {
  const std::string head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  const auto r = scan_request_head(head + "hello", 1024);
  ASSERT_EQ(r.result, st::complete);
  EXPECT_EQ(r.length, head.size());
}

TEST(H1Head, EnforcesTheLimit) {
  const std::string big = "POST / HTTP/1.1\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n";
  EXPECT_EQ(scan_request_head(big, 1024).result, st::too_large);
  EXPECT_EQ(scan_request_head(big, 4096).result, st::complete);
  EXPECT_EQ(scan_request_head(std::string(1024, 'a'), 1024).result, st::too_large);
}

}  // namespace
}  // namespace proxy
