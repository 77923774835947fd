// The mapigate executable on SIGTERM: stops accepting, lets the request in flight finish, exits 0.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "tests/support/gateway.hpp"
#include "tools/sim/mapi_sim.hpp"

namespace testing_support {
namespace {

/// `mapigate run -c FILE` as a child process with its stderr on a pipe.
class child_process {
 public:
  explicit child_process(const std::string& config) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDERR_FILENO);
      ::close(fds[0]);
      ::execl(MAPIGATE_BINARY, MAPIGATE_BINARY, "run", "-c", config.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    err_ = fds[0];
  }
  ~child_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(err_);
  }

  /// Reads stderr until `pattern` matches a line; returns the match (empty on deadline).
  std::smatch wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::smatch m;
    for (;;) {
      for (auto nl = log_.find('\n'); nl != std::string::npos; nl = log_.find('\n')) {
        line_ = log_.substr(0, nl);
        log_.erase(0, nl + 1);
        if (std::regex_search(line_, m, pattern)) return m;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd p{err_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) return {};
      char buf[1024];
      const auto n = ::read(err_, buf, sizeof buf);
      if (n <= 0) return {};
      log_.append(buf, std::size_t(n));
    }
  }

  /// Waits for the process to exit; its exit status, or -1 on the deadline.
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd p{err_, POLLIN, 0};
      ::poll(&p, 1, 20);  // bounded wait; drains nothing, just paces the loop
    }
    return -1;
  }

  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  bool reaped_ = false;
  std::string log_, line_;
};

TEST(Signal, SigtermDrainsTheRequestInFlightAndExitsZero) {
  sim::options o;
  o.name = "mbx01";
  o.pending_period = 100ms;
  o.execute_delay = 800ms;
  sim::server mbx(o);
  mbx.start();
  temp_dir dir;
  const auto file = dir.file("mapigate.yaml");
  write_file(file,
             gateway_yaml({.backends = {{"mbx01", mbx.port()}}, .timeouts = {{"drain", "10s"}}}));
  child_process proc(file);
  const auto m = proc.wait_for_line(std::regex("listener front on 127\\.0\\.0\\.1:([0-9]+)"), 10s);
  ASSERT_FALSE(m.empty()) << "mapigate did not start";
  const auto port = std::uint16_t(std::stoi(m[1]));

  auto c = test_client::tls(port, internal_host, test_pki::instance().ca_file());
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Connect", "x"));
  const auto connect = c.read_response();
  ASSERT_EQ(connect.status, 200);
  c.send(mapi_request(internal_host, "emsmdb", "u@corp.test", "Execute", "x",
                      "Cookie: " + cookies_from(connect) + "\r\n"));
  ASSERT_TRUE(mbx.wait_for_requests(2, 2s));

  ASSERT_EQ(::kill(proc.pid(), SIGTERM), 0);
  ASSERT_FALSE(proc.wait_for_line(std::regex("draining"), 5s).empty());
  // No new connections once draining has begun.
  EXPECT_THROW(test_client::tls(port, internal_host, test_pki::instance().ca_file()),
               std::exception);
  // The Execute in flight still completes, PENDINGs and all.
  const auto r = c.read_response(5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("DONE\r\n"), std::string::npos);
  EXPECT_EQ(proc.wait_exit(5s), 0);
}

}  // namespace
}  // namespace testing_support
