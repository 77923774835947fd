// Table tests for the strict request-head scanner.
#include "proxy/h1/head_scan.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/proxy/h1_head_reference.hpp"

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
      {"two empty lines first", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", st::bad},
      // RFC 9110 §8.6: one plain number, never a list (not even of equal values) or a sign.
      {"CL list", "POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\n", st::bad},
      {"CL sign", "POST / HTTP/1.1\r\nContent-Length: +4\r\n\r\n", st::bad},
      {"CL empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", st::bad},
      {"CL with OWS", "POST / HTTP/1.1\r\nContent-Length:  4 \r\n\r\n", st::complete},
      // RFC 9112 §6.3: a final coding other than chunked leaves the length unknown: 400.
      {"TE gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", st::bad},
      {"TE chunked then gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       st::bad},
      {"TE gzip then chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
       st::complete},
      {"TE identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", st::bad},
      {"two TE",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       st::bad},
      // Request lines: HTTP/0.9 is refused as soon as its line ends, not after header_read.
      {"HTTP/0.9", "GET /\r\n", st::bad},
      {"HTTP/0.9 in full", "GET /\r\n\r\n", st::bad},
      {"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", st::complete},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", st::bad},
      {"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", st::bad},
      {"lower-case version", "GET / http/1.1\r\n\r\n", st::bad},
      {"double space", "GET  / HTTP/1.1\r\n\r\n", st::bad},
      {"space in target", "GET /a b HTTP/1.1\r\n\r\n", st::bad},
      {"tab in target", "GET /a\tb HTTP/1.1\r\n\r\n", st::bad},
      {"no target", "GET HTTP/1.1\r\n\r\n", st::bad},
      {"method not a token", "GE(T / HTTP/1.1\r\n\r\n", st::bad},
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

TEST(H1Head, IgnoresOneEmptyLineBeforeTheRequestLine) {
  const std::string head = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const auto r = scan_request_head(head, 1024);
  ASSERT_EQ(r.result, st::complete) << r.reason;
  EXPECT_EQ(r.start, 2u);
  EXPECT_EQ(r.length, head.size());
  EXPECT_EQ(scan_request_head("GET / HTTP/1.1\r\n\r\n", 1024).start, 0u);
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

// The fast scanner answers as the byte-at-a-time reference does, on heads mutated at random
// (fixed seed) with the bytes that matter to it: line ends, NUL, controls, colons, folds.
TEST(H1Head, AgreesWithTheReferenceScanner) {
  const std::string seeds[] = {
      "POST /mapi/emsmdb/?MailboxId=a@b HTTP/1.1\r\nHost: mail.corp.test\r\n"
      "Content-Type: application/mapi-http\r\nX-RequestType: Execute\r\n"
      "Content-Length: 5\r\nCookie: MapiContext=x; MapiSequence=y\r\n\r\nhello",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n",
      "\r\nPOST /a?b HTTP/1.0\r\nContent-Length: 4, 4\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "GET /\r\nHost: a\r\n\r\n",
  };
  const char alphabet[] = {'\r', '\n', '\0', '\x01', '\x7f', ':', ' ',
                           '\t', 'a',  '(',  '\xff', ',',    '4'};
  std::mt19937 rng(20261121);
  int compared = 0;
  for (const auto& seed : seeds) {
    for (int round = 0; round < 4000; ++round) {
      std::string head = seed;
      const int edits = 1 + int(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % head.size();
        const char c = alphabet[rng() % sizeof alphabet];
        switch (rng() % 3) {
          case 0:
            head[at] = c;
            break;
          case 1:
            head.insert(head.begin() + std::ptrdiff_t(at), c);
            break;
          default:
            head.erase(at, 1);
            break;
        }
      }
      if (rng() % 2) head.resize(rng() % (head.size() + 1));  // what has arrived so far
      for (std::size_t limit : {std::size_t(32), std::size_t(100), std::size_t(16 * 1024)}) {
        const auto fast = scan_request_head(head, limit);
        const auto ref = reference::scan_request_head(head, limit);
        ASSERT_EQ(int(fast.result), int(ref.result)) << testing::PrintToString(head);
        ASSERT_EQ(fast.length, ref.length) << testing::PrintToString(head);
        ASSERT_EQ(fast.reason, ref.reason) << testing::PrintToString(head);
        ASSERT_EQ(fast.start, ref.start) << testing::PrintToString(head);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 4 * 4000 * 3);
}

}  // namespace
}  // namespace proxy
