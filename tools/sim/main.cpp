// mapigate-sim: runs the MAPI/HTTP mailbox-server simulator until SIGINT/SIGTERM.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "tools/sim/mapi_sim.hpp"

namespace net = boost::asio;

namespace {

constexpr std::string_view usage =
    "usage: mapigate-sim [options]\n"
    "  --name N                 backend name (X-BEServer, healthcheck body) [mbx01]\n"
    "  --listen HOST:PORT       listen address; [v6]:port for IPv6 [127.0.0.1:0]\n"
    "  --cert FILE --key FILE   serve TLS 1.2+ with this PEM chain and key\n"
    "  --cookie-style mapi|sid  MapiContext/MapiSequence or sid/sequence [mapi]\n"
    "  --pending-period MS      X-PendingPeriod and PENDING interval [30000]\n"
    "  --notification-wait MS   NotificationWait duration [300000]\n"
    "  --execute-delay MS       Execute / NSPI query processing time [0]\n"
    "  --context-expiry MS      idle session context expiry [900000]\n"
    "  --idle-timeout MS        keep-alive idle and I/O deadline [150000]\n"
    "  --body-bytes N           response body size after DONE [64]\n"
    "  --require-auth           401 for requests without credentials\n"
    "  --password-file FILE     every user's password (first line of FILE): Basic and NTLMv2\n"
    "                           are checked against it [any password is taken]\n"
    "  --unhealthy              start with /mapi/healthcheck.htm answering 503\n"
    "  --help                   this text\n";

struct bad_flag {
  std::string message;
};

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw bad_flag{std::string(flag) + ": not a valid number: '" + std::string(text) + "'"};
  }
  return value;
}

std::chrono::milliseconds parse_ms(std::string_view flag, std::string_view text) {
  return std::chrono::milliseconds(parse_number<std::uint32_t>(flag, text));
}

void parse_listen(std::string_view text, sim::options& opts) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    throw bad_flag{"--listen: expected HOST:PORT, got '" + std::string(text) + "'"};
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) throw bad_flag{"--listen: empty host"};
  opts.address = std::string(host);
  opts.port = parse_number<std::uint16_t>("--listen", text.substr(colon + 1));
}

/// nullopt: --help was given.
std::optional<sim::options> parse_args(int argc, char** argv) {
  sim::options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw bad_flag{std::string(flag) + ": missing value"};
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      return std::nullopt;
    } else if (flag == "--name") {
      opts.name = std::string(value());
      if (opts.name.empty()) throw bad_flag{"--name: must not be empty"};
    } else if (flag == "--listen") {
      parse_listen(value(), opts);
    } else if (flag == "--cert") {
      opts.cert_file = std::string(value());
    } else if (flag == "--key") {
      opts.key_file = std::string(value());
    } else if (flag == "--cookie-style") {
      std::string_view style = value();
      if (style == "mapi") {
        opts.cookies = sim::cookie_style::mapi;
      } else if (style == "sid") {
        opts.cookies = sim::cookie_style::sid;
      } else {
        throw bad_flag{"--cookie-style: expected mapi or sid, got '" + std::string(style) + "'"};
      }
    } else if (flag == "--pending-period") {
      opts.pending_period = parse_ms(flag, value());
    } else if (flag == "--notification-wait") {
      opts.notification_wait = parse_ms(flag, value());
    } else if (flag == "--execute-delay") {
      opts.execute_delay = parse_ms(flag, value());
    } else if (flag == "--context-expiry") {
      opts.context_expiry = parse_ms(flag, value());
    } else if (flag == "--idle-timeout") {
      opts.idle_timeout = parse_ms(flag, value());
    } else if (flag == "--body-bytes") {
      opts.response_body_bytes = parse_number<std::size_t>(flag, value());
      if (opts.response_body_bytes > 64 * 1024 * 1024) throw bad_flag{"--body-bytes: above 64 MiB"};
    } else if (flag == "--require-auth") {
      opts.require_auth = true;
    } else if (flag == "--password-file") {
      const std::string file(value());
      std::ifstream in(file);
      if (!in || !std::getline(in, opts.password) || opts.password.empty())
        throw bad_flag{"--password-file: cannot read a password from '" + file + "'"};
    } else if (flag == "--unhealthy") {
      opts.healthy = false;
    } else {
      throw bad_flag{"unknown flag '" + std::string(flag) + "'"};
    }
  }
  if (opts.cert_file.empty() != opts.key_file.empty()) {
    throw bad_flag{"--cert and --key must be given together"};
  }
  if (opts.pending_period.count() == 0) throw bad_flag{"--pending-period: must be > 0"};
  if (opts.idle_timeout.count() == 0) throw bad_flag{"--idle-timeout: must be > 0"};
  return opts;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<sim::options> opts;
  try {
    opts = parse_args(argc, argv);
  } catch (const bad_flag& e) {
    std::cerr << "mapigate-sim: " << e.message << "\n" << usage;
    return 2;
  }
  if (!opts) {
    std::cout << usage;
    return 0;
  }
  try {
    // Signals are caught before the server starts so an early SIGTERM still stops cleanly.
    net::io_context signals_context;
    net::signal_set signals(signals_context, SIGINT, SIGTERM);
    sim::server server(*opts);
    server.start();
    std::cout << "mapigate-sim " << server.name() << " listening on " << opts->address << ':'
              << server.port() << std::endl;
    signals.async_wait([&](const boost::system::error_code&, int) { server.stop(); });
    signals_context.run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
