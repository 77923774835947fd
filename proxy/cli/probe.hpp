// `mapigate probe URL`: the Test-OutlookConnectivity -ProbeIdentity OutlookMapiHttpSelfTestProbe
// of this world, against mapigate or Exchange itself.
#pragma once

#include <iosfwd>

namespace proxy {

/// Arguments after "probe": URL (https://host[:port]/mapi) and options --user, --password,
/// --mailbox, --user-dn, --ca FILE, --insecure, --connect ADDRESS (connect here instead of
/// resolving the URL's host; SNI and Host stay the URL's), --timeout SECONDS.
/// Steps: healthcheck (GET /mapi/healthcheck.htm, 200), anonymous (a MAPI Connect without
/// credentials must get 401 offering at least one scheme), and with --user/--password (Basic):
/// connect, ping, disconnect (HTTP 200, X-ResponseCode 0). Prints a table (probe, start, end,
/// result, error) to `out`. Returns 0 when every step passed, 1 when one failed, 2 on usage.
int probe_main(int argc, char** argv, std::ostream& out);

}  // namespace proxy
