// OpenSSL's record buffers through real sockets, over both protocols (proxy/io/tls_buffers.hpp):
// a client connection and its TLS backend connection keep them while requests come back to
// back, give them back once a second passes with none, and at once when they hold a long-poll;
// every byte still arrives whole across each change.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "tests/support/admin.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/h2_client.hpp"
#include "tests/support/one_request.hpp"
#include "tests/support/pki.hpp"
#include "tests/support/sims.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

const std::string path = "/mapi/emsmdb/?MailboxId=u@corp.test";
const std::string kept_series = "mapigate_tls_connections_keeping_buffers";

/// One client connection of either protocol, carrying MAPI requests one after another.
class mapi_connection {
 public:
  mapi_connection(bool h2, gateway& gw) {
    if (h2)
      h2_ = std::make_unique<h2_test_client>(gw.port(), internal_host,
                                             test_pki::instance().ca_file());
    else
      h1_ = std::make_unique<test_client>(gw.client());
  }

  /// HTTP/2: the server may send this much before the client reads (HTTP/1.1: nothing to say).
  void set_receive_window(std::int32_t bytes) {
    if (h2_) h2_->set_receive_window(bytes);
  }

  /// Sends a request of `type` and returns the whole response (status, X-ResponseCode, body).
  answer call(const std::string& type, const std::string& body) {
    send_only(type, body);
    return finish(std::chrono::seconds(5));
  }

  /// Sends a request of `type` and reads nothing of its response until finish().
  void send_only(const std::string& type, const std::string& body) {
    if (h2_)
      pending_ = h2_->request("POST", path, internal_host, fields(type), body);
    else
      h1_->send(mapi_request(internal_host, "emsmdb", "u@corp.test", type, body, cookie_line()));
  }
  /// The response to the request just sent (send_only(), ews()), read now.
  answer finish(std::chrono::milliseconds timeout) {
    answer a;
    if (h2_) {
      const auto& r = h2_->wait(pending_, timeout);
      a.status = r.status;
      a.headers = r.headers;
      a.body = r.body;
    } else {
      const auto r = h1_->read_response(timeout);
      a.status = r.status;
      a.headers = r.headers;
      a.body = r.body;
    }
    keep_cookies(a.cookies());
    return a;
  }

  /// An EWS request (off the MAPI vdirs: an exchange that may be held), answered whole.
  answer ews() {
    static constexpr std::string_view target = "/EWS/Exchange.asmx", body = "<soap/>";
    if (h2_)
      pending_ = h2_->request("POST", std::string(target), internal_host,
                              {{"x-anchormailbox", "u@corp.test"}, {"content-type", "text/xml"}},
                              std::string(body));
    else
      h1_->send("POST " + std::string(target) + " HTTP/1.1\r\nHost: " + internal_host +
                "\r\nX-AnchorMailbox: u@corp.test\r\nContent-Type: text/xml\r\n"
                "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + std::string(body));
    return finish(std::chrono::seconds(5));
  }

  /// Starts a NotificationWait and returns once the backend's PROCESSING has reached the client.
  void start_long_poll() {
    if (h2_) {
      const auto id = h2_->request("POST", path, internal_host, fields("NotificationWait"), "nw");
      ASSERT_TRUE(h2_->run_until(
          [&] { return h2_->get(id).body.find("PROCESSING") != std::string::npos; }));
    } else {
      h1_->send(mapi_request(internal_host, "emsmdb", "u@corp.test", "NotificationWait", "nw",
                             cookie_line()));
      ASSERT_NO_THROW(h1_->read_until("PROCESSING"));
    }
  }

 private:
  header_list fields(const std::string& type) const {
    auto h = h2_test_client::mapi_headers(type);
    if (!jar_.empty()) h.emplace_back("cookie", jar_);
    return h;
  }
  std::string cookie_line() const { return jar_.empty() ? "" : "Cookie: " + jar_ + "\r\n"; }
  /// The session's cookies: each Set-Cookie replaces the one of its name (the sequence cookie
  /// changes with every Execute).
  void keep_cookies(const std::string& set) {
    std::istringstream in(set);
    for (std::string pair; std::getline(in, pair, ';');) {
      pair.erase(0, pair.find_first_not_of(' '));
      if (const auto eq = pair.find('='); eq != std::string::npos)
        cookies_[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    jar_.clear();
    for (const auto& [name, value] : cookies_)
      jar_ += (jar_.empty() ? "" : "; ") + name + "=" + value;
  }

  std::unique_ptr<test_client> h1_;
  std::unique_ptr<h2_test_client> h2_;
  std::int32_t pending_ = 0;  ///< send_only()'s stream
  std::map<std::string, std::string> cookies_;
  std::string jar_;  ///< cookies_ as a Cookie field
};

class TlsBuffers : public ::testing::TestWithParam<bool> {  // true: HTTP/2
 protected:
  /// A TLS mailbox server whose Execute responses carry `body_bytes`, behind one worker.
  void start(std::size_t body_bytes = 64) {
    const auto cert = test_pki::instance().issue("mbx01", {"mbx01.corp.test"}, {"127.0.0.1"});
    sim::options o;
    o.cert_file = cert.cert;
    o.key_file = cert.key;
    o.pending_period = std::chrono::seconds(20);  // nothing moves while a long-poll is held
    o.notification_wait = std::chrono::seconds(30);
    o.response_body_bytes = body_bytes;
    mbx_ = start_sim("mbx01", o);
    gw_ = std::make_unique<gateway>(
        gateway_options{.backends = {{"mbx01", mbx_->port(), true, "mbx01.corp.test"}},
                        .workers = 1,
                        .extra_yaml = "vdirs:\n  ews:\n",  // published, for the EWS case
                        .listener_alpn = "[h2, http/1.1]"});
  }
  double kept() { return sample(metrics_text(gw_->admin_port()), kept_series); }
  /// Connects `c` and makes it busy (requests back to back), so that the client's connection and
  /// the pooled backend connection both keep their buffers. `first`: the answer every later
  /// Execute must repeat. Callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void make_busy(mapi_connection& c, answer& first);
  /// On a busy `c`, an Execute whose large response the client reads nothing of until both
  /// connections gave their buffers back (it stalls half-way); then it is read: whole, in order,
  /// and the connection carries the next request. Callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void stall_then_read(mapi_connection& c);

  std::unique_ptr<sim::server> mbx_;
  std::unique_ptr<gateway> gw_;
};

std::string protocol_name(const ::testing::TestParamInfo<bool>& tp) {
  return tp.param ? "Http2" : "Http11";
}

/// An Execute response's binary part, after its meta fields (which carry the time).
std::string payload(const std::string& body) {
  const auto at = body.find("\r\n\r\n");
  return at == std::string::npos ? body : body.substr(at + 4);
}

/// An Execute whose response arrives whole: its binary part byte for byte as `expected`'s.
void execute(mapi_connection& c, const answer& expected) {
  const auto r = c.call("Execute", "rops");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-ResponseCode"), "0");
  EXPECT_EQ(r.body.size(), expected.body.size());
  EXPECT_EQ(payload(r.body), payload(expected.body));
}

/// Three requests back to back: two of them start within one second, whatever second it is.
void three_executes(mapi_connection& c, const answer& expected) {
  for (int i = 0; i < 3; ++i)
    execute(c, expected);
}

void TlsBuffers::make_busy(mapi_connection& c, answer& first) {
  ASSERT_EQ(c.call("Connect", "connect").status, 200);
  first = c.call("Execute", "rops");
  ASSERT_EQ(first.header("X-ResponseCode"), "0");
  ASSERT_FALSE(payload(first.body).empty());
  // PINGs: small answers, so that two start within one second even where an Execute's 8 MiB
  // take longer than that (under the sanitizers, on a busy machine).
  for (int i = 0; i < 3; ++i) {
    const auto ping = c.call("PING", "");
    ASSERT_EQ(ping.status, 200);
    ASSERT_EQ(ping.header("X-ResponseCode"), "0");
  }
  // The client's connection and the pooled backend connection both carried them.
  ASSERT_EQ(kept(), 2);
}

void TlsBuffers::stall_then_read(mapi_connection& c) {
  answer first;
  ASSERT_NO_FATAL_FAILURE(make_busy(c, first));
  ASSERT_GT(first.body.size(), 8u * 1024 * 1024);
  c.send_only("Execute", "rops");
  // Nothing is read meanwhile: the response stalls half-way, and both connections go quiet.
  EXPECT_TRUE(eventually([&] { return kept() == 0; }, std::chrono::seconds(4)));
  const auto stalled = c.finish(std::chrono::seconds(30));
  EXPECT_EQ(stalled.status, 200);
  EXPECT_EQ(stalled.header("X-ResponseCode"), "0");
  EXPECT_EQ(stalled.body.size(), first.body.size());
  EXPECT_TRUE(payload(stalled.body) == payload(first.body));  // not printed: 8 MiB
  // The connection goes on.
  execute(c, first);
}

TEST_P(TlsBuffers, ABusyConnectionKeepsThemUntilASecondPassesWithNoRequest) {
  start();
  mapi_connection c(GetParam(), *gw_);
  answer first;
  ASSERT_NO_FATAL_FAILURE(make_busy(c, first));
  // Quiet: within two periods both give their buffers back (the connection stays open).
  EXPECT_TRUE(eventually([&] { return kept() == 0; }, std::chrono::seconds(4)));
  // One request after a quiet spell is not busy; more right after it are. Every byte arrives
  // whole whether the buffers were kept or taken afresh.
  execute(c, first);
  EXPECT_EQ(kept(), 0);
  three_executes(c, first);
  EXPECT_EQ(kept(), 2);
}

TEST_P(TlsBuffers, AHeldLongPollGivesThemBackAtOnce) {
  start();
  mapi_connection c(GetParam(), *gw_);
  answer first;
  ASSERT_NO_FATAL_FAILURE(make_busy(c, first));
  // The long-poll is held on the same client connection and on the pooled backend connection
  // that carried the Executes: both give their buffers back as the exchange starts, not a
  // period or two later.
  c.start_long_poll();
  EXPECT_TRUE(eventually([&] { return kept() == 0; }, std::chrono::milliseconds(300)));
}

// A response too big for the socket buffers, which the client stops reading: the relay waits
// with OpenSSL in the middle of a write (HTTP/1.1: the client's TCP window; HTTP/2: its flow
// control), long enough for the connections to count as quiet. Giving the buffers back then
// must not lose or reorder a byte: OpenSSL refuses to free a buffer that still holds a record
// and frees it once drained.
TEST_P(TlsBuffers, AStalledResponseGivesThemBackAndStillArrivesWhole) {
  start(8 * 1024 * 1024);
  mapi_connection c(GetParam(), *gw_);
  ASSERT_NO_FATAL_FAILURE(stall_then_read(c));
}

// The same with nothing holding the response back but the socket: HTTP/2's window is wider than
// the response, so the proxy writes until the client's socket is full, and the writer waits for
// it (write_now, then write_rest) as HTTP/1.1's does; every byte still arrives, once, in order.
TEST_P(TlsBuffers, AResponseStalledAtTheSocketStillArrivesWhole) {
  start(8 * 1024 * 1024);
  mapi_connection c(GetParam(), *gw_);
  c.set_receive_window(64 * 1024 * 1024);
  ASSERT_NO_FATAL_FAILURE(stall_then_read(c));
}

// Exchanges off the MAPI vdirs (EWS, OWA, Autodiscover, OAB) may be held for long (EWS
// streaming notifications), so run_exchange treats each as held: it gives the buffers back as it
// starts, on a connection that was busy with MAPI requests, and the next MAPI requests take them
// again.
TEST_P(TlsBuffers, AnExchangeOffTheMapiVdirsGivesThemBack) {
  start();
  mapi_connection c(GetParam(), *gw_);
  answer first;
  ASSERT_NO_FATAL_FAILURE(make_busy(c, first));
  const auto e = c.ews();
  EXPECT_EQ(e.status, 200) << e.body;
  EXPECT_TRUE(eventually([&] { return kept() == 0; }, std::chrono::milliseconds(300)));
  three_executes(c, first);
  EXPECT_EQ(kept(), 2);
}

INSTANTIATE_TEST_SUITE_P(Protocols, TlsBuffers, ::testing::Bool(), protocol_name);

}  // namespace
}  // namespace testing_support
