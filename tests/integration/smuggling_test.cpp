// Request smuggling through mapigate, tried as an attacker would: the same request shapes over
// HTTP/2 and HTTP/1.1, their bytes split every way (all frames in one write, a write per frame,
// small DATA frames, a write per byte), a backend that keeps every byte it receives, and the
// next clients' requests after each attempt, on the same connection, a new one and the other
// protocol, so that a pooled backend connection left holding an unfinished request shows.
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/recording_backend.hpp"

namespace testing_support {
namespace {

const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";

/// What an attacker puts where a body should be: requests that mapigate refuses on its own
/// (a foreign Host, /ecp, ProxyLogon's X-BEResource cookie), and a POST whose declared length
/// would swallow the next client's request if this reached a backend unframed.
const std::string smuggled =
    "GET /ecp/default.flt HTTP/1.1\r\nHost: evil.test\r\n"
    "Cookie: X-BEResource=localhost/owa/auth/x.js?~1942062522\r\n\r\n"
    "POST /ecp/proxyLogon.ecp HTTP/1.1\r\nHost: evil.test\r\nContent-Length: 400\r\n\r\n";

std::unique_ptr<gateway> smuggling_gateway(std::uint16_t backend) {
  return std::make_unique<gateway>(
      gateway_options{.backends = {{"mbx01", backend}},
                      .timeouts = {{"body_idle", "500ms"}},
                      .workers = 1,  // every connection shares one pool
                      .listener_alpn = "[h2, http/1.1]"});
}

h2_test_client h2_connect(gateway& gw) {
  return h2_test_client(gw.port(), internal_host, test_pki::instance().ca_file());
}

/// A victim's MAPI request over HTTP/2: answered by the backend, its body and cookie intact.
void expect_victim_served_h2(h2_test_client& c) {
  const auto id =
      c.request("POST", path, internal_host,
                h2_test_client::mapi_headers("Execute", "MapiContext=victim"), "victim-body");
  const auto& r = c.wait(id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-responsecode"), "0");
  EXPECT_EQ(r.body, "ok");
}

void expect_victim_served_h1(gateway& gw) {
  auto c = gw.client();
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "victim-body",
                      "Cookie: MapiContext=victim\r\n"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  EXPECT_EQ(r.body, "ok");
}

/// Every byte the backend received, read as a backend reads it: only complete requests with
/// explicit framing, none of them smuggled; a connection left with an unfinished request was
/// closed by mapigate (never used for anyone else); `complete` requests in all, of which
/// `victims` carry the victim's body and cookie unharmed.
void expect_only_framed_requests(const recording_backend& be, std::size_t complete,
                                 std::size_t victims) {
  // mapigate closes a connection it abandons right after it answered the client: wait for it.
  EXPECT_TRUE(eventually([&] {
    for (const auto& c : be.connections())
      if (!parse_requests(c.bytes).rest.empty() && !c.closed) return false;
    return true;
  }));
  std::size_t total = 0, victims_seen = 0;
  for (const auto& c : be.connections()) {
    const auto s = parse_requests(c.bytes);
    EXPECT_EQ(s.error, "") << c.bytes;
    EXPECT_TRUE(s.rest.empty() || c.closed) << c.bytes;
    for (const auto& r : s.requests) {
      SCOPED_TRACE(r.method + " " + r.target);
      EXPECT_FALSE(r.chunked);
      EXPECT_EQ(r.target, path);
      EXPECT_EQ(r.header("Host"), internal_host);
      EXPECT_EQ(r.header("Cookie").find("X-BEResource"), std::string::npos);
      if (!r.body.empty()) {
        EXPECT_TRUE(r.content_length) << "a body without Content-Length";
      }
      if (r.header("Cookie") == "MapiContext=victim") {
        EXPECT_EQ(r.body, "victim-body");
        ++victims_seen;
      }
    }
    total += s.requests.size();
  }
  EXPECT_EQ(total, complete);
  EXPECT_EQ(victims_seen, victims);
}

// ---- HTTP/2 ----

enum class h2_shape { exact, no_length, empty_data_no_length, length_too_small, length_too_large };

struct h2_case {
  const char* name;
  h2_shape shape;
  h2_test_client::split split;
  std::size_t data_frame = 16384;
};

/// gtest prints the case by its name.
void PrintTo(const h2_case& c, std::ostream* os) {
  *os << c.name;
}

class H2BodyFraming : public ::testing::TestWithParam<h2_case> {};

TEST_P(H2BodyFraming, SameAnswerInEverySplitAndOnlyFramedRequestsReachTheBackend) {
  const auto& p = GetParam();
  recording_backend be;
  auto gw = smuggling_gateway(be.port());
  auto c = h2_connect(*gw);
  // First a normal request, so that a backend connection waits in the pool for the attack.
  expect_victim_served_h2(c);
  ASSERT_TRUE(be.wait_answered(1, 5s));

  c.set_split(p.split);
  c.set_data_frame_size(p.data_frame);
  std::optional<std::string> body = smuggled, length;
  switch (p.shape) {
    case h2_shape::exact:
      length = std::to_string(body->size());
      break;
    case h2_shape::no_length:
      break;
    case h2_shape::empty_data_no_length:
      body = "";
      break;
    case h2_shape::length_too_small:
      length = "5";
      break;
    case h2_shape::length_too_large:
      length = std::to_string(body->size() + 50);
      break;
  }
  const auto id = c.request_framed("POST", path, internal_host,
                                   h2_test_client::mapi_headers("Execute"), body, length);
  const auto r = c.wait(id);
  std::size_t complete = 1;  // the first request
  switch (p.shape) {
    case h2_shape::exact:  // relayed, framed: the payload is only a body
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("x-responsecode"), "0");
      ++complete;
      break;
    case h2_shape::no_length:
    case h2_shape::empty_data_no_length:
      // A body without a declared length is refused the MAPI way (411 as Invalid Request
      // Header), whether its DATA came with HEADERS or later.
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("x-responsecode"), "4");
      break;
    case h2_shape::length_too_small:
    case h2_shape::length_too_large:
      // DATA that contradicts content-length is a malformed request (RFC 9113 §8.1.1): the
      // stream is reset, and the backend never gets the request whole.
      EXPECT_EQ(r.status, 0);
      EXPECT_EQ(r.error_code, 1u);  // PROTOCOL_ERROR
      break;
  }

  // The next clients: on this connection (a stream error leaves it open), on a new HTTP/2
  // connection, and over HTTP/1.1.
  c.set_split(h2_test_client::split::whole);
  expect_victim_served_h2(c);
  auto fresh = h2_connect(*gw);
  expect_victim_served_h2(fresh);
  expect_victim_served_h1(*gw);
  complete += 3;
  EXPECT_TRUE(be.wait_answered(complete, 5s));
  expect_only_framed_requests(be, complete, 4);
  if (p.shape == h2_shape::exact) {
    bool found = false;
    for (const auto& conn : be.connections())
      for (const auto& req : parse_requests(conn.bytes).requests)
        if (req.body == smuggled) {
          found = true;
          EXPECT_EQ(req.header("Content-Length"), std::to_string(smuggled.size()));
        }
    EXPECT_TRUE(found);
  }
}

std::vector<h2_case> h2_cases() {
  using s = h2_test_client::split;
  struct shape_name {
    h2_shape shape;
    const char* name;
  };
  const shape_name shapes[] = {{h2_shape::exact, "Exact"},
                               {h2_shape::no_length, "NoLength"},
                               {h2_shape::empty_data_no_length, "EmptyDataNoLength"},
                               {h2_shape::length_too_small, "LengthTooSmall"},
                               {h2_shape::length_too_large, "LengthTooLarge"}};
  static std::vector<std::string> names;  // the cases point into it
  names.reserve(4 * std::size(shapes));
  std::vector<h2_case> out;
  for (const auto& sh : shapes) {
    for (const auto& [split, frame, how] :
         {std::tuple{s::whole, std::size_t(16384), "AllInOneWrite"},
          std::tuple{s::per_frame, std::size_t(16384), "FramePerWrite"},
          std::tuple{s::per_frame, std::size_t(7), "SmallDataFramePerWrite"},
          std::tuple{s::per_byte, std::size_t(16384), "BytePerWrite"}}) {
      names.push_back(std::string(sh.name) + how);
      out.push_back({names.back().c_str(), sh.shape, split, frame});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Splits, H2BodyFraming, ::testing::ValuesIn(h2_cases()),
                         [](const auto& tp) { return std::string(tp.param.name); });

// ---- HTTP/1.1: the same payloads where HTTP/1.1 frames them ----

enum class h1_shape {
  exact,              ///< Content-Length covers the payload: only a body
  no_length,          ///< no framing field: the payload is the next request, judged on its own
  length_too_small,   ///< the payload's rest is the next request, judged on its own
  length_too_large,   ///< the client never sends the rest: body_idle ends it
  chunked,            ///< refused (MAPI: 411 as Invalid Request Header), then close
  final_coding_gzip,  ///< RFC 9112 §6.3: 400 and close, before anything else is decided
  length_list,        ///< RFC 9110 §8.6: "Content-Length: n, n" is refused, never forwarded
};

struct h1_case {
  const char* name;
  h1_shape shape;
  bool byte_per_write;
};

/// gtest prints the case by its name.
void PrintTo(const h1_case& c, std::ostream* os) {
  *os << c.name;
}

class H1BodyFraming : public ::testing::TestWithParam<h1_case> {};

std::string h1_head(std::string_view framing) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: mail.corp.test\r\nContent-Type: application/mapi-http\r\n"
         "X-RequestType: Execute\r\nX-RequestId: {C715155F-2BE8-44E0-BD34-2960065754C8}:1\r\n" +
         std::string(framing) + "\r\n";
}

TEST_P(H1BodyFraming, SameAnswerInEverySplitAndOnlyFramedRequestsReachTheBackend) {
  const auto& p = GetParam();
  recording_backend be;
  auto gw = smuggling_gateway(be.port());
  expect_victim_served_h1(*gw);  // a pooled backend connection for the attack to take
  ASSERT_TRUE(be.wait_answered(1, 5s));

  std::string attack;
  const std::string chunk = [] {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", smuggled.size());
    return size + smuggled + "\r\n0\r\n\r\n";
  }();
  switch (p.shape) {
    case h1_shape::exact:
      attack = h1_head("Content-Length: " + std::to_string(smuggled.size()) + "\r\n") + smuggled;
      break;
    case h1_shape::no_length:
      attack = h1_head("") + smuggled;
      break;
    case h1_shape::length_too_small:
      attack = h1_head("Content-Length: 5\r\n") + "hello" + smuggled;
      break;
    case h1_shape::length_too_large:
      attack = h1_head("Content-Length: 5000\r\n") + smuggled;
      break;
    case h1_shape::chunked:
      attack = h1_head("Transfer-Encoding: chunked\r\n") + chunk;
      break;
    case h1_shape::final_coding_gzip:
      attack = h1_head("Transfer-Encoding: chunked, gzip\r\n") + chunk;
      break;
    case h1_shape::length_list:
      attack = h1_head("Content-Length: 5, 5\r\n") + "hello" + smuggled;
      break;
  }
  auto c = gw->client();
  try {
    if (p.byte_per_write) {
      for (char b : attack)
        c.send(std::string_view(&b, 1));
    } else {
      c.send(attack);
    }
  } catch (const client_error&) {
    // mapigate may close (after its answer) before a refused request's last bytes are sent.
  }
  std::size_t complete = 1;
  switch (p.shape) {
    case h1_shape::exact: {
      const auto r = c.read_response();
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("X-ResponseCode"), "0");
      ++complete;
      break;
    }
    case h1_shape::no_length:
    case h1_shape::length_too_small: {
      const auto r = c.read_response();
      // The request before the payload is complete and relayed; the payload is then a request
      // of its own, refused for its foreign Host (421) before any backend sees it.
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("X-ResponseCode"), "0");
      ++complete;
      EXPECT_EQ(c.read_response().status, 421);
      break;
    }
    case h1_shape::length_too_large:
      EXPECT_TRUE(c.wait_closed(3s));  // body_idle: the backend's unfinished request goes too
      break;
    case h1_shape::chunked: {
      const auto r = c.read_response();
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("X-ResponseCode"), "4");
      EXPECT_TRUE(c.wait_closed(3s));
      break;
    }
    case h1_shape::final_coding_gzip:
    case h1_shape::length_list:
      EXPECT_EQ(c.read_response().status, 400);
      EXPECT_TRUE(c.wait_closed(3s));
      break;
  }
  auto h2 = h2_connect(*gw);
  expect_victim_served_h2(h2);
  expect_victim_served_h1(*gw);
  complete += 2;
  EXPECT_TRUE(be.wait_answered(complete, 5s));
  expect_only_framed_requests(be, complete, 3);
}

INSTANTIATE_TEST_SUITE_P(
    Splits, H1BodyFraming,
    ::testing::Values(h1_case{"ExactAllInOneWrite", h1_shape::exact, false},
                      h1_case{"ExactBytePerWrite", h1_shape::exact, true},
                      h1_case{"NoLengthAllInOneWrite", h1_shape::no_length, false},
                      h1_case{"NoLengthBytePerWrite", h1_shape::no_length, true},
                      h1_case{"LengthTooSmallAllInOneWrite", h1_shape::length_too_small, false},
                      h1_case{"LengthTooSmallBytePerWrite", h1_shape::length_too_small, true},
                      h1_case{"LengthTooLargeAllInOneWrite", h1_shape::length_too_large, false},
                      h1_case{"LengthTooLargeBytePerWrite", h1_shape::length_too_large, true},
                      h1_case{"ChunkedAllInOneWrite", h1_shape::chunked, false},
                      h1_case{"ChunkedBytePerWrite", h1_shape::chunked, true},
                      h1_case{"FinalCodingGzipAllInOneWrite", h1_shape::final_coding_gzip, false},
                      h1_case{"FinalCodingGzipBytePerWrite", h1_shape::final_coding_gzip, true},
                      h1_case{"LengthListAllInOneWrite", h1_shape::length_list, false},
                      h1_case{"LengthListBytePerWrite", h1_shape::length_list, true}),
    [](const auto& tp) { return std::string(tp.param.name); });

}  // namespace
}  // namespace testing_support
