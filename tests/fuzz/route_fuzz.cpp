// Fuzz target: routing decisions on arbitrary request targets and Host headers. Whatever the
// input, a proxy decision names only configured backends.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "routing/route_table.hpp"

namespace {

const config::snapshot& fuzz_config() {
  static const config::snapshot c = [] {
    config::snapshot s;
    s.mapi.internal_url =
        config::vdir_url{"https://mail.corp.test/mapi", "https", "mail.corp.test", 443, "/mapi"};
    for (const char* n : {"mbx01", "mbx02"}) {
      config::backend b;
      b.name = n;
      s.backends.push_back(b);
    }
    s.pools.push_back({"dag1", {0, 1}});
    s.routes.push_back(
        {config::route_kind::domain, "corp.test", {config::target_kind::backend, 1}});
    s.default_route = config::target{config::target_kind::pool, 0};
    return s;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const routing::route_table table(fuzz_config());
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // First line: the Host header; the rest: the request target.
  const auto nl = in.find('\n');
  const auto host = in.substr(0, nl);
  const auto target = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  const auto d = table.decide({"POST", target, host, std::nullopt});
  if (d.act == routing::decision::action::proxy) {
    if (d.candidates.empty()) std::abort();
    for (auto b : d.candidates)
      if (b >= fuzz_config().backends.size()) std::abort();
  }
  return 0;
}
