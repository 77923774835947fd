// `mapigate --version`.
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>

#include <boost/version.hpp>

#include "mapigate/version.hpp"
#include "proxy/cli/build_info.hpp"

namespace mapigate {

std::string version_text() {
#if defined(__clang__)
  const std::string compiler = "clang " __clang_version__;
#else
  const std::string compiler = "GCC " __VERSION__;
#endif
  std::string boost = BOOST_LIB_VERSION;
  for (auto& c : boost)
    if (c == '_') c = '.';
  const auto* h2 = nghttp2_version(0);
  return "mapigate " + std::string(version) + "\nrevision " + build_revision + ", built " +
         build_date + " with " + compiler + "\nlibraries: Boost " + boost + ", " +
         OpenSSL_version(OPENSSL_VERSION) + ", nghttp2 " + (h2 ? h2->version_str : "?") +
         ", yaml-cpp " + MAPIGATE_YAML_CPP_VERSION + ", prometheus-cpp " +
         MAPIGATE_PROMETHEUS_CPP_VERSION + "\n";
}

}  // namespace mapigate
