// Three mapigate processes behind a real L4 balancer: HAProxy from Debian in mode tcp, round
// robin, send-proxy-v2, checking each instance's /mapi/healthcheck.htm, as an organisation with
// several instances runs them. A session whose requests land on every instance keeps its
// mailbox server; TLS sessions resume on another instance and across a ticket-key rotation; each
// instance's logs carry the client's own address; a killed instance costs only its own
// connections; a rolling restart under load loses no request.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/gateway.hpp"
#include "tests/support/reserved_port.hpp"
#include "tests/support/sims.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t instance_count = 3;
/// The client's own address; HAProxy reaches the instances from 127.0.0.1.
constexpr const char* client_address = "127.0.0.7";

/// Cookies as a client keeps them: the latest value of each name, sent back on every request.
struct cookie_jar {
  std::map<std::string, std::string> values;

  void take(const http_response& r) {
    for (const auto& v : r.all("Set-Cookie")) {
      const auto eq = v.find('=');
      const auto end = v.find(';');
      if (eq != std::string::npos && eq < end)
        values[v.substr(0, eq)] = v.substr(eq + 1, end - eq - 1);
    }
  }
  std::string header() const {
    std::string out;
    for (const auto& [name, value] : values)
      out += (out.empty() ? "" : "; ") + name + "=" + value;
    return out.empty() ? "" : "Cookie: " + out + "\r\n";
  }
};

/// The name of the key a TLS session's ticket is encrypted under: its first 16 bytes, as
/// OpenSSL's ticket callback writes them (and the first 16 bytes of an nginx-layout key file).
std::string ticket_key_name(const SSL_SESSION* s) {
  const unsigned char* ticket = nullptr;
  std::size_t len = 0;
  SSL_SESSION_get0_ticket(s, &ticket, &len);
  return len < 16 ? "" : std::string(reinterpret_cast<const char*>(ticket), 16);
}

std::string file_prefix(const std::string& file, std::size_t n) {
  std::ifstream in(file, std::ios::binary);
  std::string out(n, '\0');
  in.read(out.data(), std::streamsize(n));
  return out;
}

/// One mapigate process: its name (X-FEServer, ServerHostName), its port (kept across
/// restarts), its directory (configuration, affinity key, HttpProxy logs).
struct instance {
  std::string name;
  reserved_port port;
  temp_dir dir;
  std::string config = dir.file("mapigate.yaml");
  std::unique_ptr<child_process> process;

  void start() {
    process = std::make_unique<child_process>(config, false,
                                              std::vector<std::string>{"--server-name", name});
    ASSERT_EQ(start_mapigate(*process), port.port()) << name << " did not start:\n"
                                                     << process->transcript();
  }
  /// SIGTERM, and the exit status of the drain (0 when clean).
  int stop() {
    process->signal(SIGTERM);
    return process->wait_exit(20s);
  }
};

class Balancer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(HAPROXY_BINARY))
        << HAPROXY_BINARY << " is missing: scripts/install-deps.sh installs Debian's haproxy";
    // A NotificationWait answers after 300 ms rather than five minutes.
    sims_[0] = start_sim("mbx01", {.notification_wait = 300ms});
    sims_[1] = start_sim("mbx02", {.notification_wait = 300ms});
    run_command("openssl rand -out " + old_key_ + " 80");
    run_command("openssl rand -out " + new_key_ + " 80");
    for (std::size_t i = 0; i < instance_count; ++i) {
      auto& in = instances_[i];
      in = std::make_unique<instance>();
      in->name = "fe" + std::to_string(i + 1);
      write_config(*in, {old_key_});
      in->start();
      if (HasFatalFailure()) return;
    }
    start_haproxy();
  }

  /// `draining`: the backend (if any) whose state is `draining`.
  gateway_options options(const instance& in, const std::vector<std::string>& keys,
                          const std::string& draining = {}) const {
    std::string list;
    for (const auto& k : keys)
      list += (list.empty() ? "" : ", ") + k;
    auto state = [&](const char* name) { return draining == name ? "draining" : ""; };
    return {
        .backends = {{.name = "mbx01", .port = sims_[0]->port(), .state = state("mbx01")},
                     {.name = "mbx02", .port = sims_[1]->port(), .state = state("mbx02")}},
        // The balancer marks an instance down after two failed checks (every 200 ms): a
        // second of accept_grace covers it with room to spare.
        .timeouts = {{"accept_grace", "1s"}, {"drain", "10s"}},
        .workers = 1,
        .affinity_key = test_affinity_key,
        .logs_yaml = "  directory: " + (in.dir.path() / "logs").string() + "\n",
        .listener_tls_yaml = "      ticket_key_files: [" + list + "]\n",
        .listener_yaml = "    proxy_protocol: v2\n    trusted_sources: [127.0.0.1/32]\n",
        .listener_port = in.port.port(),
    };
  }
  void write_config(const instance& in, const std::vector<std::string>& keys,
                    const std::string& draining = {}) const {
    std::ofstream(in.config) << gateway_yaml(options(in, keys, draining), in.dir.path().string());
  }
  /// Every instance reloads (SIGHUP) what write_config wrote.
  void reload_all() {
    for (auto& in : instances_) {
      in->process->signal(SIGHUP);
      ASSERT_FALSE(in->process->wait_for_line(std::regex("is now in effect"), 10s).empty())
          << in->name << " did not reload:\n"
          << in->process->transcript();
    }
  }

  void start_haproxy() {
    std::ofstream cfg(haproxy_config_);
    cfg << "global\n"
           "  log stderr format raw local0 notice\n"  // server UP/DOWN, not every session
           "defaults\n"
           "  mode tcp\n  log global\n"
           "  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  timeout check 2s\n"
           // A connection an instance refuses (stopped, killed) is tried on another one.
           "  retries 3\n  option redispatch 1\n"
           "frontend outlook\n"
           "  bind 127.0.0.1:"
        << front_.port()
        << "\n  default_backend mapigate\n"
           "backend mapigate\n"
           "  balance roundrobin\n"
           "  option httpchk\n"
           "  http-check send meth GET uri /mapi/healthcheck.htm ver HTTP/1.1 hdr Host "
        << internal_host
        << "\n  http-check expect status 200\n"
           "  default-server send-proxy-v2 check check-ssl check-send-proxy check-sni "
        << internal_host << " ca-file " << test_pki::instance().ca_file()
        << " verify required inter 200ms fall 2 rise 1\n";
    for (const auto& in : instances_)
      cfg << "  server " << in->name << " 127.0.0.1:" << in->port.port() << "\n";
    cfg.close();
    haproxy_ = std::make_unique<child_process>(
        command_line{{HAPROXY_BINARY, "-db", "-f", haproxy_config_}});
    // Up once it accepts a connection.
    ASSERT_TRUE(eventually(
        [&] {
          try {
            connect();
            return true;
          } catch (const std::exception&) {
            return false;
          }
        },
        10s))
        << "haproxy did not start:\n"
        << haproxy_->transcript();
  }

  /// A connection through the balancer, from the client's own address.
  test_client connect(SSL_SESSION* resume = nullptr) const {
    return test_client::tls(front_.port(), internal_host, test_pki::instance().ca_file(),
                            client_address, {}, resume);
  }

  /// One MAPI request of the session `jar` belongs to, on `c`; the jar takes its cookies.
  static http_response request(test_client& c, cookie_jar& jar, const std::string& mailbox,
                               const std::string& type) {
    c.send(mapi_request(internal_host, "emsmdb", mailbox, type, "x", jar.header()));
    auto r = c.read_response(10s);
    jar.take(r);
    return r;
  }

  /// Waits until the balancer's checks see instance `i` up (or down).
  bool haproxy_sees(std::size_t i, const char* state) {
    const std::regex line("Server mapigate/" + instances_[i]->name + " is " + state);
    return !haproxy_->wait_for_line(line, 10s).empty();
  }

  std::size_t index_of(const std::string& name) const {
    for (std::size_t i = 0; i < instance_count; ++i)
      if (instances_[i]->name == name) return i;
    ADD_FAILURE() << "no instance named '" << name << "'";
    return 0;
  }

  std::unique_ptr<sim::server> sims_[2];
  temp_dir dir_;
  std::string old_key_ = dir_.file("old.key"), new_key_ = dir_.file("new.key");
  std::unique_ptr<instance> instances_[instance_count];
  reserved_port front_;
  std::string haproxy_config_ = dir_.file("haproxy.cfg");
  std::unique_ptr<child_process> haproxy_;
};

TEST_F(Balancer, ASessionWhoseRequestsLandOnEveryInstanceKeepsItsServer) {
  cookie_jar jar;
  std::vector<std::string> fronts;
  std::set<std::string> backends;
  auto roam = [&](const char* type) {
    auto c = connect();  // Outlook after sleep or a network change: a new connection each time
    const auto r = request(c, jar, "roaming@corp.test", type);
    EXPECT_EQ(r.status, 200) << type;
    EXPECT_EQ(r.header("X-ResponseCode"), "0") << type;
    fronts.push_back(r.header("X-FEServer"));
    backends.insert(r.header("X-BEServer"));
  };
  roam("Connect");
  const auto server = *backends.begin();
  // The session's server drains on every instance: the mailbox's hash no longer leads to it,
  // so only the affinity cookie can bring the session back there.
  for (auto& in : instances_)
    write_config(*in, {old_key_}, server);
  reload_all();
  {
    auto c = connect();
    cookie_jar fresh;
    EXPECT_NE(request(c, fresh, mailbox_owned_by(server == "mbx01" ? 0 : 1), "Connect")
                  .header("X-BEServer"),
              server)
        << "a new session of a mailbox it owns still went to the draining server";
  }
  for (const char* type :
       {"Execute", "Execute", "Execute", "Execute", "Execute", "NotificationWait", "Execute"})
    roam(type);
  EXPECT_EQ(backends.size(), 1u);  // one mailbox server throughout
  for (std::size_t i = 1; i < fronts.size(); ++i)
    EXPECT_NE(fronts[i], fronts[i - 1]) << "request " << i << " stayed on its instance";
  EXPECT_EQ(std::set<std::string>(fronts.begin(), fronts.end()).size(), instance_count);
}

struct pinged {
  std::string front;  ///< the instance that answered
  bool resumed = false;
  std::shared_ptr<SSL_SESSION> session;
};

TEST_F(Balancer, TlsSessionsResumeOnAnotherInstanceAndAcrossAKeyRotation) {
  auto ping = [&](SSL_SESSION* resume = nullptr) {
    auto c = connect(resume);
    cookie_jar jar;
    const auto r = request(c, jar, "u@corp.test", "PING");
    EXPECT_EQ(r.status, 200);
    pinged p{r.header("X-FEServer"), c.resumed(), c.session()};
    c.close_gracefully();  // OpenSSL keeps a session resumable only after close_notify
    return p;
  };
  const auto old_name = file_prefix(old_key_, 16), new_name = file_prefix(new_key_, 16);

  const auto first = ping();
  EXPECT_FALSE(first.resumed);
  ASSERT_TRUE(first.session);
  EXPECT_EQ(ticket_key_name(first.session.get()), old_name);
  const auto second = ping(first.session.get());
  EXPECT_NE(second.front, first.front);
  EXPECT_TRUE(second.resumed) << "a ticket of " << first.front << " on " << second.front;

  // The rotation, on all three: the new key first (encrypts), the old one kept (decrypts the
  // tickets in the wild), by SIGHUP.
  for (auto& in : instances_)
    write_config(*in, {new_key_, old_key_});
  reload_all();
  if (HasFatalFailure()) return;
  // A ticket issued before the rotation still resumes, on every instance.
  std::set<std::string> resumed_on;
  for (std::size_t i = 0; i < instance_count; ++i) {
    const auto p = ping(first.session.get());
    EXPECT_TRUE(p.resumed) << "an old ticket on " << p.front;
    resumed_on.insert(p.front);
  }
  EXPECT_EQ(resumed_on.size(), instance_count);
  // New tickets are under the new key once each instance's worker took the new configuration,
  // and they resume on the next instance.
  pinged fresh;
  EXPECT_TRUE(eventually([&] {
    fresh = ping();
    return ticket_key_name(fresh.session.get()) == new_name;
  }));
  const auto next = ping(fresh.session.get());
  EXPECT_NE(next.front, fresh.front);
  EXPECT_TRUE(next.resumed) << "a new ticket of " << fresh.front << " on " << next.front;
}

TEST_F(Balancer, EveryInstancesLogsCarryTheClientsOwnAddress) {
  std::set<std::string> fronts;
  cookie_jar jar;
  for (std::size_t i = 0; i < 2 * instance_count; ++i) {
    auto c = connect();
    const auto r = request(c, jar, "u@corp.test", i == 0 ? "Connect" : "Execute");
    EXPECT_EQ(r.header("X-ResponseCode"), "0");
    fronts.insert(r.header("X-FEServer"));
  }
  EXPECT_EQ(fronts.size(), instance_count);
  // A clean stop writes every record out.
  for (auto& in : instances_)
    ASSERT_EQ(in->stop(), 0) << in->process->transcript();
  for (const auto& in : instances_) {
    std::size_t mine = 0;
    for (const auto& row : http_proxy_rows(in->dir.path() / "logs", "Mapi")) {
      if (!row.at("UrlStem").starts_with("/mapi/emsmdb")) continue;  // the balancer's checks
      ++mine;
      EXPECT_EQ(row.at("ClientIpAddress"), client_address) << in->name;
      EXPECT_EQ(row.at("ServerHostName"), in->name);
    }
    EXPECT_EQ(mine, 2u) << in->name;
  }
}

TEST_F(Balancer, AKilledInstanceCostsOnlyItsOwnConnections) {
  // Session a on one instance, session b on another, each on a keep-alive connection.
  cookie_jar a_jar, b_jar;
  auto a = connect();
  const auto a_connect = request(a, a_jar, "a@corp.test", "Connect");
  ASSERT_EQ(a_connect.header("X-ResponseCode"), "0");
  auto b = connect();  // round robin: the next instance
  const auto b_connect = request(b, b_jar, "b@corp.test", "Connect");
  ASSERT_EQ(b_connect.header("X-ResponseCode"), "0");
  const auto killed = a_connect.header("X-FEServer");
  ASSERT_NE(b_connect.header("X-FEServer"), killed);

  auto& victim = *instances_[index_of(killed)]->process;
  victim.signal(SIGKILL);
  ASSERT_EQ(victim.wait_exit(10s), 128 + SIGKILL);
  // a's connection dies with its instance; Outlook connects again and carries on there.
  EXPECT_THROW(request(a, a_jar, "a@corp.test", "Execute"), client_error);
  for (int i = 0; i < 4; ++i) {
    auto again = connect();
    const auto r = request(again, a_jar, "a@corp.test", "Execute");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-ResponseCode"), "0");
    EXPECT_EQ(r.header("X-BEServer"), a_connect.header("X-BEServer"));
    EXPECT_NE(r.header("X-FEServer"), killed);
  }
  // b never notices: on its connection, and on new ones while the balancer finds out.
  for (int i = 0; i < 8; ++i) {
    const auto r = request(b, b_jar, "b@corp.test", "Execute");
    EXPECT_EQ(r.header("X-ResponseCode"), "0");
    auto fresh = connect();
    const auto f = request(fresh, b_jar, "b@corp.test", "Execute");
    EXPECT_EQ(f.header("X-ResponseCode"), "0");
    EXPECT_EQ(f.header("X-BEServer"), b_connect.header("X-BEServer"));
  }
}

TEST_F(Balancer, ARollingRestartUnderLoadLosesNoRequest) {
  std::atomic<bool> done{false};
  std::mutex m;
  std::vector<std::string> failures;
  std::map<std::string, std::size_t> served;  // answers per instance
  std::size_t answered = 0;
  // Two Outlook sessions, each a loop of requests on keep-alive connections: a new one when the
  // instance says Connection: close, and after every fifth request (so that each loop visits
  // every instance). No request is retried. Bounded: 20,000 requests or 120 s per loop.
  auto load = [&](int id) {
    cookie_jar jar;
    const auto mailbox = "load" + std::to_string(id) + "@corp.test";
    std::optional<test_client> c;
    const auto until = std::chrono::steady_clock::now() + 120s;
    for (int n = 0; n < 20'000 && !done && std::chrono::steady_clock::now() < until; ++n) {
      const char* type = n == 0 ? "Connect" : "Execute";
      try {
        if (!c) c.emplace(connect());
        const auto r = request(*c, jar, mailbox, type);
        std::lock_guard lock(m);
        if (r.status != 200 || r.header("X-ResponseCode") != "0")
          failures.push_back(std::string(type) + ": " + std::to_string(r.status) + " " +
                             r.header("X-ResponseCode"));
        ++served[r.header("X-FEServer")];
        ++answered;
        if (!r.keep_alive) {
          c.reset();
        } else if (n % 5 == 4) {
          c->close_gracefully();
          c.reset();
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        failures.push_back(std::string(type) + " #" + std::to_string(n) + ": " + e.what());
        c.reset();
      }
    }
  };
  auto answers_from = [&](const std::string& name) {
    std::lock_guard lock(m);
    return served[name];
  };
  std::thread first(load, 1), second(load, 2);
  for (std::size_t i = 0; i < instance_count; ++i) {
    auto& in = *instances_[i];
    ASSERT_TRUE(eventually([&] { return answers_from(in.name) > 0; }, 10s)) << in.name;
    EXPECT_EQ(in.stop(), 0) << in.process->transcript();
    EXPECT_TRUE(haproxy_sees(i, "DOWN")) << haproxy_->transcript();
    in.start();
    EXPECT_TRUE(haproxy_sees(i, "UP")) << haproxy_->transcript();
    const auto before = answers_from(in.name);
    EXPECT_TRUE(eventually([&] { return answers_from(in.name) > before; }, 10s))
        << in.name << " took no requests after its restart";
  }
  done = true;
  first.join();
  second.join();
  std::string all;
  for (const auto& f : failures)
    all += "\n  " + f;
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << answered + failures.size()
                                << " requests failed:" << all;
  EXPECT_GT(answered, 100u);
}

}  // namespace
}  // namespace testing_support
