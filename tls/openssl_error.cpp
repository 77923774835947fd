// OpenSSL error queue → text.
#include "tls/openssl_error.hpp"

#include <openssl/err.h>

namespace tls {

std::string openssl_errors(std::string_view what) {
  std::string out(what);
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

}  // namespace tls
