// Request body framing towards backends, table-driven: what each codec declares
// (h2_body_framing, h1_body_framing), the one refusal rule (refuse_framing), and the one head
// writer that writes nothing unless the head frames the body explicitly (append_request_head).
#include "proxy/request/body_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/h1/request_parser.hpp"
#include "proxy/request/policy.hpp"
#include "proxy/request/wire.hpp"

namespace proxy {
namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

http::request_header<relay_fields> head(const field_list& fields) {
  http::request_header<relay_fields> h;
  h.method_string("POST");
  h.target("/mapi/emsmdb/?MailboxId=u@corp.test");
  for (const auto& [name, value] : fields)
    h.insert(name, value);
  return h;
}

std::string written(const http::request_header<relay_fields>& h, body_framing body, bool& ok) {
  beast::flat_buffer out;
  ok = append_request_head(out, h, body);
  return beast::buffers_to_string(out.data());
}

TEST(BodyFraming, H2DeclaresTheBodyFromHeadersAlone) {
  struct h2_case {
    const char* what;
    bool end_stream;
    std::optional<std::string_view> length;
    std::optional<body_framing> expected;
  };
  const h2_case cases[] = {
      {"END_STREAM on HEADERS: no body", true, std::nullopt, body_framing::no_body()},
      {"END_STREAM with content-length 0", true, "0", body_framing::no_body()},
      {"DATA follows, content-length", false, "5", body_framing::of_length(5)},
      {"DATA follows, content-length 0", false, "0", body_framing::of_length(0)},
      {"DATA follows, no content-length", false, std::nullopt, body_framing::undeclared()},
      {"a list is not a length", false, "4, 4", std::nullopt},
      {"a sign is not a length", false, "+4", std::nullopt},
      {"empty", false, "", std::nullopt},
      {"beyond 64 bits", false, "99999999999999999999", std::nullopt},
      {"invalid even without a body", true, "x", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(h2_body_framing(c.end_stream, c.length), c.expected);
  }
}

TEST(BodyFraming, H1DeclaresTheBodyFromItsParsedHead) {
  struct h1_case {
    const char* what;
    std::string head;
    body_framing expected;
  };
  const h1_case cases[] = {
      {"no framing field: no body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", body_framing::no_body()},
      {"Content-Length", "POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\n",
       body_framing::of_length(7)},
      {"Content-Length 0", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
       body_framing::of_length(0)},
      {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
       body_framing::undeclared()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    request_parser p;
    error_code ec;
    p.put(net::buffer(c.head), ec);
    ASSERT_FALSE(ec && ec != http::error::need_buffer) << ec.message();
    ASSERT_TRUE(p.is_header_done());
    EXPECT_EQ(h1_body_framing(p), c.expected);
  }
}

TEST(BodyFraming, OneRefusalRuleForBothCodecs) {
  EXPECT_FALSE(refuse_framing(body_framing::no_body(), 10));
  EXPECT_FALSE(refuse_framing(body_framing::of_length(10), 10));
  const auto unknown = refuse_framing(body_framing::undeclared(), 10);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 411);
  EXPECT_EQ(unknown->mapi_code, 4);  // Invalid Request Header: Outlook does not retry it as is
  const auto large = refuse_framing(body_framing::of_length(11), 10);
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_EQ(large->mapi_code, 9);
}

TEST(BodyFraming, RequestHeadsLeaveOnlyWithExplicitFraming) {
  struct write_case {
    const char* what;
    field_list fields;
    body_framing body;
    bool written;
  };
  const write_case cases[] = {
      {"no body, no framing field", {{"Host", "a"}}, body_framing::no_body(), true},
      {"no body, Content-Length 0", {{"Content-Length", "0"}}, body_framing::no_body(), true},
      {"no body, but a length is claimed",
       {{"Content-Length", "5"}},
       body_framing::no_body(),
       false},
      {"body of its declared length", {{"content-length", "5"}}, body_framing::of_length(5), true},
      {"body of length 0", {{"Content-Length", "0"}}, body_framing::of_length(0), true},
      // The smuggling hole: an HTTP/2 body, no content-length, relayed bare.
      {"body without a framing field", {{"Host", "a"}}, body_framing::of_length(5), false},
      {"body of unknown length", {{"Host", "a"}}, body_framing::undeclared(), false},
      {"unknown length even with a field",
       {{"Content-Length", "5"}},
       body_framing::undeclared(),
       false},
      {"field disagrees with the body",
       {{"Content-Length", "4"}},
       body_framing::of_length(5),
       false},
      {"list of equal values", {{"Content-Length", "5, 5"}}, body_framing::of_length(5), false},
      {"two fields",
       {{"Content-Length", "5"}, {"Content-Length", "5"}},
       body_framing::of_length(5),
       false},
      {"sign", {{"Content-Length", "+5"}}, body_framing::of_length(5), false},
      {"Transfer-Encoding with a length",
       {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}},
       body_framing::of_length(5),
       false},
      {"Transfer-Encoding and no body",
       {{"Transfer-Encoding", "chunked"}},
       body_framing::no_body(),
       false},
      // Names in any case, in any order: found by the codes beast gives them.
      {"transfer-encoding before the length, lower case",
       {{"transfer-encoding", "identity"}, {"Content-Length", "5"}},
       body_framing::of_length(5),
       false},
      {"TRANSFER-ENCODING last, upper case",
       {{"Host", "a"}, {"Content-Length", "5"}, {"X-A", "b"}, {"TRANSFER-ENCODING", "chunked"}},
       body_framing::of_length(5),
       false},
      {"two fields in different cases, apart",
       {{"content-length", "5"}, {"Host", "a"}, {"CONTENT-LENGTH", "5"}},
       body_framing::of_length(5),
       false},
      {"one length among many fields",
       {{"Host", "a"}, {"X-RequestType", "Execute"}, {"CONTENT-LENGTH", "5"}, {"Cookie", "c"}},
       body_framing::of_length(5),
       true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    bool ok = false;
    const auto out = written(head(c.fields), c.body, ok);
    EXPECT_EQ(ok, c.written);
    if (!c.written) {
      EXPECT_EQ(out, "");  // nothing at all, not even the request line
    }
  }
}

TEST(BodyFraming, AWrittenHeadKeepsNamesAndOrder) {
  bool ok = false;
  const auto out = written(
      head({{"Host", "mail.corp.test"}, {"Content-Length", "5"}, {"X-RequestType", "Execute"}}),
      body_framing::of_length(5), ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(out,
            "POST /mapi/emsmdb/?MailboxId=u@corp.test HTTP/1.1\r\nHost: mail.corp.test\r\n"
            "Content-Length: 5\r\nX-RequestType: Execute\r\n\r\n");
}

}  // namespace
}  // namespace proxy
