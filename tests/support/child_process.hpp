// A `mapigate run` child process for tests that need a real second process (signals, two
// instances sharing nothing but their configuration).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace testing_support {

/// Tag for child_process's constructor that runs any program.
struct command_line {
  std::vector<std::string> argv;  ///< argv[0] is the program's path
};

/// `mapigate run -c FILE` (or any program) as a child process with its stderr on a pipe.
/// `journal_stream`: the child's $JOURNAL_STREAM names that pipe, as systemd sets it when
/// stderr goes to the journal.
class child_process {
 public:
  explicit child_process(const std::string& config, bool journal_stream = false,
                         std::vector<std::string> extra_args = {})
      : child_process(command_line{mapigate_argv(config, std::move(extra_args))}, journal_stream) {}

  explicit child_process(const command_line& cmd, bool journal_stream = false) {
    std::vector<char*> argv;
    for (const auto& a : cmd.argv)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDERR_FILENO);
      ::close(fds[0]);
      struct stat st {};
      if (journal_stream && ::fstat(STDERR_FILENO, &st) == 0) {
        const auto id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        ::setenv("JOURNAL_STREAM", id.c_str(), 1);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    err_ = fds[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
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
      transcript_.append(buf, std::size_t(n));
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
      // A bounded wait that also drains stderr, so a child that logs while it stops never
      // blocks on a full pipe.
      // After stderr's EOF, poll on no descriptor: it only paces the loop.
      pollfd p{err_, POLLIN, 0};
      if (::poll(&p, err_eof_ ? 0 : 1, 20) > 0) {
        char buf[1024];
        const auto n = ::read(err_, buf, sizeof buf);
        if (n > 0) {
          log_.append(buf, std::size_t(n));
          transcript_.append(buf, std::size_t(n));
        } else {
          err_eof_ = true;
        }
      }
    }
    return -1;
  }

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  /// Everything read from its stderr so far (for a failing test's message).
  const std::string& transcript() const noexcept { return transcript_; }

  static std::vector<std::string> mapigate_argv(const std::string& config,
                                                std::vector<std::string> extra) {
    std::vector<std::string> argv{MAPIGATE_BINARY, "run", "-c", config};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  bool reaped_ = false;
  bool err_eof_ = false;  ///< the child closed its stderr
  std::string log_, line_, transcript_;
};

/// Starts `mapigate run -c config` and returns its first listener's port (0 if it did not start
/// within 10 s).
inline std::uint16_t start_mapigate(child_process& p) {
  const auto m = p.wait_for_line(std::regex("listener front on 127\\.0\\.0\\.1:([0-9]+)"),
                                 std::chrono::seconds(10));
  return m.empty() ? 0 : std::uint16_t(std::stoi(m[1]));
}

}  // namespace testing_support
