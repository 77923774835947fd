// A TCP port on 127.0.0.1 that stays a test's own across restarts of the process listening on it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace testing_support {

/// A socket bound to 127.0.0.1:<ephemeral> with SO_REUSEADDR that never listens. The kernel
/// gives the port to no other port-0 bind while it exists, yet a listener that sets
/// SO_REUSEADDR too (mapigate's, HAProxy's) can bind it, stop and bind it again: a process of a
/// test can be restarted on the same address, as a balancer's configuration expects.
class reserved_port {
 public:
  reserved_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("reserved_port: cannot bind 127.0.0.1:0");
    port_ = ntohs(a.sin_port);
  }
  ~reserved_port() { ::close(fd_); }
  reserved_port(const reserved_port&) = delete;
  reserved_port& operator=(const reserved_port&) = delete;

  std::uint16_t port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace testing_support
