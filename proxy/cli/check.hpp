// `mapigate check`: everything that can be known about a configuration before it serves.
#pragma once

#include <iosfwd>
#include <string>

namespace proxy {

/// Loads `file` (every diagnostic as file:line:col), loads certificates, keys and CAs, then:
/// - error: a TLS listener has no certificate covering the internal or external namespace host
///   (Outlook would show a certificate prompt), or a certificate has expired;
/// - warning: a certificate expires within 30 days; a TLS backend presents a certificate other
///   than the front one (Extended Protection's channel binding then breaks NTLM through the
///   proxy), or cannot be reached to compare. Only with `connect_backends`: it opens
///   connections (bounded by timeouts.upstream_connect each), which a reload should not wait on.
/// Prints "error: ..." / "warning: ..." lines and a summary to `out`. Returns the exit status:
/// 0 clean or warnings only (1 with `strict` when there are warnings), 1 on any error.
int check_config(const std::string& file, bool strict, bool connect_backends, std::ostream& out);

}  // namespace proxy
