// `mapigate probe URL`: the Test-OutlookConnectivity -ProbeIdentity OutlookMapiHttpSelfTestProbe
// of this world, against mapigate or Exchange itself.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <iosfwd>

namespace proxy {

inline constexpr const char* probe_usage =
    "Usage: mapigate probe URL [--user USER (--password-file FILE | --password-env NAME)]\n"
    "                          [--auth auto|ntlm|negotiate|basic] [--mailbox ADDRESS] [--ca FILE]\n"
    "                          [--insecure] [--connect ADDRESS] [--timeout SECONDS]\n"
    "URL is https://host[:port]/mapi (internal or external namespace). Steps: healthcheck\n"
    "(GET /mapi/healthcheck.htm: 200), anonymous (a Connect without credentials: 401 offering a\n"
    "scheme), then with --user: connect, ping, disconnect (200 and X-ResponseCode 0), logged on\n"
    "with the scheme the 401 offered (NTLMv2 first, then Basic). The password comes from a file,\n"
    "an environment variable or, on a terminal, a prompt; --password puts it where other users\n"
    "can read it (ps) and is for tests only. Exit status: 0 every step passed, 1 one failed,\n"
    "2 usage error.\n";

/// The probe's options (also in `mapigate --help` and the man page); "url" is positional.
boost::program_options::options_description probe_options();

/// Runs the probe with the parsed options. Prints a table (probe, start, end, latency, result,
/// error) to `out`, usage problems to `err`. Returns 0 when every step passed, 1 when one
/// failed, 2 on usage.
int probe_main(const boost::program_options::variables_map& vm, std::ostream& out,
               std::ostream& err);

}  // namespace proxy
