// The TLS buffer rule (proxy/io/tls_buffers.hpp) on real SSL objects: which connections keep
// OpenSSL's record buffers (SSL_MODE_RELEASE_BUFFERS cleared) after which events.
#include "proxy/io/tls_buffers.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace proxy {
namespace {

struct ssl_ctx_free {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct ssl_free {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

/// A connection as tls_conn holds it: the SSL (made with the release mode, as the contexts set
/// it), then its part in the rule.
struct conn {
  std::unique_ptr<SSL, ssl_free> ssl;
  tls_buffer_use use;

  explicit conn(SSL_CTX* ctx) : ssl(SSL_new(ctx)) {}
  bool releases() const { return (SSL_get_mode(ssl.get()) & SSL_MODE_RELEASE_BUFFERS) != 0; }
};

class TlsBuffers : public ::testing::Test {
 protected:
  TlsBuffers() : ctx_(SSL_CTX_new(TLS_server_method())) {
    SSL_CTX_set_mode(ctx_.get(), SSL_MODE_RELEASE_BUFFERS);
  }
  std::unique_ptr<conn> make() { return std::make_unique<conn>(ctx_.get()); }

  std::unique_ptr<SSL_CTX, ssl_ctx_free> ctx_;
};

/// Events on connections a, b and c: "a" a request starts on a, "t" a period ends, "A" a gives
/// its buffers back (a held long-poll). After the script, which keep their buffers.
struct rule_case {
  std::string name;
  std::vector<std::string> script;
  std::string kept;  ///< the connections keeping their buffers, in order a, b, c
};

TEST_F(TlsBuffers, ABusyConnectionKeepsItsBuffersUntilAPeriodPassesWithNoRequest) {
  const std::vector<rule_case> cases = {
      {"nothing happened", {}, ""},
      {"one request", {"a"}, ""},
      {"two requests in one period", {"a", "a"}, "a"},
      {"two requests a period apart", {"a", "t", "a"}, ""},
      {"kept through the period after its last request", {"a", "a", "t"}, "a"},
      {"a period with no request ends it", {"a", "a", "t", "t"}, ""},
      {"a request each period keeps it", {"a", "a", "t", "a", "t", "a", "t"}, "a"},
      {"busy again after a quiet period", {"a", "a", "t", "t", "a", "a"}, "a"},
      {"a held long-poll gives them back at once", {"a", "a", "A"}, ""},
      {"giving back what is not kept changes nothing", {"a", "A", "a"}, "a"},
      {"connections apart", {"a", "b", "b", "c", "c", "t", "b", "t"}, "b"},
      // The sweep moves the last kept connection into the slot of one it drops: every
      // connection is still looked at.
      {"several dropped in one sweep", {"a", "a", "b", "b", "c", "c", "t", "t"}, ""},
      {"the survivor of a sweep stays listed", {"a", "a", "b", "b", "c", "c", "t", "c", "t"}, "c"},
      {"one given back, the others kept", {"a", "a", "b", "b", "c", "c", "A"}, "bc"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    tls_buffer_keeper keeper;
    std::array<std::unique_ptr<conn>, 3> cs = {make(), make(), make()};
    for (const auto& step : tc.script) {
      const char e = step[0];
      if (e == 't')
        keeper.tick();
      else if (e >= 'a' && e <= 'c')
        keeper.request_started(cs[e - 'a']->use, cs[e - 'a']->ssl.get());
      else
        keeper.give_back(cs[e - 'A']->use);
    }
    std::string kept;
    for (int i = 0; i < 3; ++i) {
      const auto& c = *cs[i];
      EXPECT_EQ(c.use.kept(), !c.releases()) << char('a' + i);  // the mode says the same
      if (c.use.kept()) kept += char('a' + i);
    }
    EXPECT_EQ(kept, tc.kept);
    EXPECT_EQ(keeper.kept_count(), kept.size());
    keeper.tick();  // the list is still consistent: two more periods drop every connection
    keeper.tick();
    EXPECT_EQ(keeper.kept_count(), 0u);
    for (const auto& c : cs)
      EXPECT_TRUE(c->releases());
  }
}

TEST_F(TlsBuffers, AMovedConnectionKeepsItsPlaceAndAClosedOneLeavesTheList) {
  tls_buffer_keeper keeper;
  auto a = make();
  auto b = make();
  for (auto* c : {a.get(), b.get()}) {
    keeper.request_started(c->use, c->ssl.get());
    keeper.request_started(c->use, c->ssl.get());
  }
  ASSERT_EQ(keeper.kept_count(), 2u);
  // Moved (a backend connection moved into its pool entry): the keeper follows it.
  std::optional<tls_buffer_use> moved(std::move(a->use));
  EXPECT_FALSE(a->use.kept());
  EXPECT_TRUE(moved->kept());
  keeper.give_back(*moved);
  EXPECT_FALSE(moved->kept());
  EXPECT_TRUE(a->releases());
  EXPECT_EQ(keeper.kept_count(), 1u);
  // Closed while kept: it leaves the list; the sweep never touches its freed SSL.
  b.reset();
  EXPECT_EQ(keeper.kept_count(), 0u);
  keeper.tick();
  keeper.tick();
}

TEST_F(TlsBuffers, AKeeperThatGoesFirstLetsItsConnectionsGo) {
  auto a = make();
  {
    tls_buffer_keeper keeper;
    keeper.request_started(a->use, a->ssl.get());
    keeper.request_started(a->use, a->ssl.get());
    ASSERT_TRUE(a->use.kept());
  }
  EXPECT_FALSE(a->use.kept());
  EXPECT_TRUE(a->releases());
}

}  // namespace
}  // namespace proxy
