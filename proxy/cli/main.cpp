// mapigate: `run` the proxy, or `check` a configuration.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "config/loader.hpp"
#include "mapigate/version.hpp"
#include "proxy/cli/check.hpp"
#include "proxy/cli/probe.hpp"
#include "proxy/io/log.hpp"
#include "proxy/server.hpp"
#include "proxy/state/runtime.hpp"

namespace {

constexpr const char* usage =
    "usage: mapigate run -c FILE      serve with the configuration in FILE\n"
    "       mapigate check [--strict] [--backends] -c FILE\n"
    "                                 validate FILE: syntax, references, certificates and keys,\n"
    "                                 namespace names, expiry; --backends: connect to TLS\n"
    "                                 backends and compare their certificate with the front\n"
    "                                 one; --strict: warnings fail too\n"
    "       mapigate probe URL [--user U --password P] [--mailbox M] [--ca FILE] [--insecure]\n"
    "                                 Test-OutlookConnectivity-style check of a /mapi URL\n"
    "       mapigate version\n";

/// Loads and validates; prints every diagnostic. Returns null on failure.
config::snapshot_ptr load(const std::string& file) {
  auto r = config::load_file(file);
  for (const auto& d : r.diagnostics)
    std::cerr << d.to_string() << '\n';
  if (!r) std::cerr << file << ": " << r.diagnostics.size() << " error(s)\n";
  return r.config;
}

int run(const std::string& file) {
  // Until run_until_signal handles it, a SIGHUP (an early `systemctl reload`) must not kill us.
  std::signal(SIGHUP, SIG_IGN);
  auto cfg = load(file);
  if (!cfg) return 1;
  try {
    proxy::server srv(cfg);
    srv.start();
    srv.run_until_signal(cfg->timeouts.drain, file);
  } catch (const std::exception& e) {
    proxy::log(proxy::log_level::error, "cannot start: ", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "version" || cmd == "--version") {
    std::cout << "mapigate " << mapigate::version << '\n';
    return 0;
  }
  if (cmd == "probe") return proxy::probe_main(argc - 2, argv + 2, std::cout);
  std::string file;
  bool strict = false;
  bool backends = false;
  for (int i = 2; i < argc; ++i) {
    if ((std::strcmp(argv[i], "-c") == 0 || std::strcmp(argv[i], "--config") == 0) && i + 1 < argc)
      file = argv[++i];
    else if (cmd == "check" && std::strcmp(argv[i], "--strict") == 0)
      strict = true;
    else if (cmd == "check" && std::strcmp(argv[i], "--backends") == 0)
      backends = true;
    else {
      std::cerr << "unknown argument: " << argv[i] << '\n' << usage;
      return 2;
    }
  }
  if (file.empty() || (cmd != "run" && cmd != "check")) {
    std::cerr << usage;
    return 2;
  }
  return cmd == "check" ? proxy::check_config(file, strict, backends, std::cout) : run(file);
}
