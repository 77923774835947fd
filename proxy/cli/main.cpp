// mapigate: `run` the proxy, `check` a configuration, `probe` a /mapi URL. The command line is
// Boost.Program_options; `--help` (on stdout, exit 0) is the text help2man turns into mapigate(1).
#include <boost/program_options.hpp>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "proxy/cli/build_info.hpp"
#include "proxy/cli/check.hpp"
#include "proxy/cli/probe.hpp"
#include "proxy/io/log.hpp"
#include "proxy/server.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* summary =
    "Usage: mapigate COMMAND [OPTION]...\n"
    "A TLS-terminating reverse proxy for Outlook's MAPI over HTTP in front of Exchange-style\n"
    "mailbox servers.\n"
    "\n"
    "Commands:\n"
    "  run      serve with a configuration (SIGHUP reloads it, SIGTERM drains)\n"
    "  check    validate a configuration: syntax, references, certificates and keys,\n"
    "           namespace names, expiry; warns about valid but unsafe values\n"
    "  probe    a Test-OutlookConnectivity-style check of a /mapi URL: health check,\n"
    "           the 401 offer, then Connect, PING and Disconnect as a monitoring user\n"
    "  version  the version, the git revision, the build date and the library versions\n"
    "\n"
    "'mapigate COMMAND --help' shows one command's options. Every configuration key is\n"
    "documented in config/README.md. Exit status: 0 success, 1 failure, 2 usage error.\n"
    "\n"
    "Environment:\n"
    "  MAPIGATE_LOG=debug|info|warn|error   lowest level written to stderr [info]\n"
    "  JOURNAL_STREAM                       set by systemd: lines carry sd-daemon priorities\n";

po::options_description common_options() {
  po::options_description d("Options");
  d.add_options()("help,h", "show this help and exit")("version", "show the version and exit");
  return d;
}

po::options_description run_options() {
  po::options_description d("run options");
  d.add_options()                                                                             //
      ("config,c", po::value<std::string>()->value_name("FILE")->required(),                  //
       "the configuration file (YAML)")                                                       //
      ("server-name", po::value<std::string>()->value_name("NAME"),                           //
       "use NAME instead of the file's server_name (the HttpProxy logs' ServerHostName and "  //
       "the health check's body), on start and every reload: one file for every replica, "    //
       "e.g. --server-name $(POD_NAME)")                                                      //
      ("help,h", "show this help and exit");
  return d;
}

po::options_description check_options() {
  po::options_description d("check options");
  d.add_options()                                                             //
      ("config,c", po::value<std::string>()->value_name("FILE")->required(),  //
       "the configuration file (YAML)")                                       //
      ("strict", "warnings fail the check too (exit 1)")                      //
      ("backends",
       "also connect to every TLS backend, verify its certificate and compare "  //
       "it with the front one")                                                  //
      ("help,h", "show this help and exit");
  return d;
}

/// Parses `args` against `opts` (positional: `pos`). Usage errors go to stderr; returns false.
bool parse(const char* command, const std::vector<std::string>& args,
           const po::options_description& opts, const po::positional_options_description& pos,
           po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    if (vm.count("help") == 0) po::notify(vm);
    return true;
  } catch (const po::error& e) {
    std::cerr << "mapigate " << command << ": " << e.what() << "\nTry 'mapigate " << command
              << " --help'.\n";
    return false;
  }
}

/// Loads and validates; prints every diagnostic. Returns null on failure.
config::snapshot_ptr load(const std::string& file, const config::overrides& over) {
  auto r = config::load_file(file, over);
  for (const auto& d : r.diagnostics)
    std::cerr << d.to_string() << '\n';
  if (!r) std::cerr << file << ": " << r.diagnostics.size() << " error(s)\n";
  return r.config;
}

int run(const std::vector<std::string>& args) {
  const auto opts = run_options();
  po::variables_map vm;
  if (!parse("run", args, opts, {}, vm)) return 2;
  if (vm.count("help")) {
    std::cout << "Usage: mapigate run -c FILE [--server-name NAME]\n\n" << opts;
    return 0;
  }
  config::overrides over;
  if (vm.count("server-name")) {
    over.server_name = vm["server-name"].as<std::string>();
    if (!config::valid_server_name(over.server_name)) {
      std::cerr << "mapigate run: --server-name '" << over.server_name
                << "': 1..253 letters, digits, '.', '-' or '_'\n";
      return 2;
    }
  }
  const auto file = vm["config"].as<std::string>();
  // Until run_until_signal handles it, a SIGHUP (an early `systemctl reload`) must not kill us.
  std::signal(SIGHUP, SIG_IGN);
  auto cfg = load(file, over);
  if (!cfg) return 1;
  try {
    proxy::server srv(cfg);
    srv.start();
    srv.run_until_signal(file, over);
  } catch (const std::exception& e) {
    proxy::log(proxy::log_level::error, "cannot start: ", e.what());
    return 1;
  }
  return 0;
}

int check(const std::vector<std::string>& args) {
  const auto opts = check_options();
  po::variables_map vm;
  if (!parse("check", args, opts, {}, vm)) return 2;
  if (vm.count("help")) {
    std::cout << "Usage: mapigate check -c FILE [--strict] [--backends]\n\n" << opts;
    return 0;
  }
  return proxy::check_config(vm["config"].as<std::string>(), vm.count("strict") != 0,
                             vm.count("backends") != 0, std::cout);
}

int probe(const std::vector<std::string>& args) {
  const auto opts = proxy::probe_options();
  po::positional_options_description pos;
  pos.add("url", 1);
  po::variables_map vm;
  if (!parse("probe", args, opts, pos, vm)) return 2;
  if (vm.count("help")) {
    std::cout << proxy::probe_usage << '\n' << opts;
    return 0;
  }
  return proxy::probe_main(vm, std::cout, std::cerr);
}

/// Everything --help says: the summary, then each command's options (the man page's body).
void full_help(std::ostream& out) {
  out << summary << '\n'
      << common_options() << "\nUsage: mapigate run -c FILE [--server-name NAME]\n"
      << run_options() << "\nUsage: mapigate check -c FILE [--strict] [--backends]\n"
      << check_options() << '\n'
      << proxy::probe_usage << '\n'
      << proxy::probe_options();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    full_help(std::cout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << mapigate::version_text();
    return 0;
  }
  if (cmd == "run") return run(args);
  if (cmd == "check") return check(args);
  if (cmd == "probe") return probe(args);
  std::cerr << (cmd.empty() ? "mapigate: a command is needed"
                            : "mapigate: unknown command '" + cmd + "'")
            << "\n\n"
            << summary;
  return 2;
}
