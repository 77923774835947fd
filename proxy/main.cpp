// mapigate: `run` the proxy, or `check` a configuration.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "config/loader.hpp"
#include "proxy/log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/server.hpp"

namespace {

constexpr const char* usage =
    "usage: mapigate run -c FILE      serve with the configuration in FILE\n"
    "       mapigate check -c FILE    validate FILE (syntax, references, certificates, keys)\n"
    "       mapigate version\n";

/// Loads and validates; prints every diagnostic. Returns null on failure.
config::snapshot_ptr load(const std::string& file) {
  auto r = config::load_file(file);
  for (const auto& d : r.diagnostics)
    std::cerr << d.to_string() << '\n';
  if (!r) std::cerr << file << ": " << r.diagnostics.size() << " error(s)\n";
  return r.config;
}

int check(const std::string& file) {
  auto cfg = load(file);
  if (!cfg) return 1;
  try {
    metrics::registry scratch({});
    proxy::runtime rt(cfg, scratch);  // loads every certificate, key and CA the config names
  } catch (const std::exception& e) {
    std::cerr << file << ": " << e.what() << '\n';
    return 1;
  }
  std::cout << file << ": configuration OK\n";
  return 0;
}

int run(const std::string& file) {
  auto cfg = load(file);
  if (!cfg) return 1;
  try {
    proxy::server srv(cfg);
    srv.start();
    srv.run_until_signal(cfg->timeouts.drain);
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
    std::cout << "mapigate " << MAPIGATE_VERSION << '\n';
    return 0;
  }
  std::string file;
  for (int i = 2; i < argc; ++i) {
    if ((std::strcmp(argv[i], "-c") == 0 || std::strcmp(argv[i], "--config") == 0) && i + 1 < argc)
      file = argv[++i];
    else {
      std::cerr << "unknown argument: " << argv[i] << '\n' << usage;
      return 2;
    }
  }
  if (file.empty() || (cmd != "run" && cmd != "check")) {
    std::cerr << usage;
    return 2;
  }
  return cmd == "check" ? check(file) : run(file);
}
