// Helpers for accesslog tests: temp directory, manual clock, file listing, an Import-Csv-like
// reader.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "accesslog/record.hpp"
#include "tests/support/csv.hpp"
#include "tests/support/temp_dir.hpp"

namespace accesslog_test {

using namespace std::chrono_literals;
using sys_time = std::chrono::system_clock::time_point;

using temp_dir = testing_support::temp_dir;

/// A clock the test moves by hand; safe to read from the writer thread.
class manual_clock {
 public:
  explicit manual_clock(sys_time start) : now_(start.time_since_epoch().count()) {}
  sys_time now() const { return sys_time(sys_time::duration(now_.load())); }
  void advance(sys_time::duration d) { now_ += d.count(); }
  auto fn() {
    return [this] { return now(); };
  }

 private:
  std::atomic<sys_time::rep> now_;
};

/// 2026-03-01T14:25:07.123Z
inline sys_time test_time() {
  using namespace std::chrono;
  return sys_days{year{2026} / 3 / 1} + 14h + 25min + 7s + 123ms;
}

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& p, std::size_t bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << std::string(bytes, 'x');
}

/// File names (not paths) in `folder`, sorted; empty if the folder does not exist.
inline std::vector<std::string> names_in(const std::filesystem::path& folder) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// HttpProxy_YYYYMMDDHH-N.LOG names in `folder` in write order: by hour, then N numerically.
inline std::vector<std::string> logs_in_order(const std::filesystem::path& folder) {
  auto names = names_in(folder);
  const auto key = [](const std::string& n) {
    const auto dash = n.rfind('-');
    return std::make_pair(n.substr(0, dash), std::stoul(n.substr(dash + 1)));
  };
  std::sort(names.begin(), names.end(),
            [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  return names;
}

using testing_support::crlf_lines;
using testing_support::csv_file;
using testing_support::read_csv;

/// A typical MAPI Execute request.
inline accesslog::record mapi_execute() {
  accesslog::record r;
  r.date_time = test_time();
  r.request_id = "9b241890-db8d-44c5-a50e-ccdc753cab92";
  r.x_request_id = "{1b7dabb2-1111-2222-3333-444455556666}:2";
  r.x_request_type = "Execute";
  r.x_client_info = "{97c0f33d-aaaa-bbbb-cccc-ddddeeeeffff}:1";
  r.protocol = "Mapi";
  r.url_host = "mail.contoso.test";
  r.url_stem = "/mapi/emsmdb/";
  r.url_query = "?mailboxId=0b5c1e2a-0000-4000-8000-000000000001@contoso.test";
  r.authentication_type = "Negotiate";
  r.is_authenticated = true;
  r.authenticated_user = "CONTOSO\\alice";
  r.anchor_mailbox = "MailboxGuid~0b5c1e2a-0000-4000-8000-000000000001";
  r.user_agent = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)";
  r.client_ip = "192.0.2.10";
  r.server_host_name = "gw1";
  r.http_status = 200;
  r.backend_status = 200;
  r.method = "POST";
  r.proxy_action = "Proxy";
  r.target_server = "mbx1.contoso.test";
  r.routing_hint = "MailboxGuidWithDomain";
  r.backend_cookie = "Database~fb7adba2~~2026-03-31T14:25:07";
  r.request_bytes = 273;
  r.response_bytes = 295;
  r.routing_latency = std::chrono::milliseconds(2);
  r.backend_connect = std::chrono::milliseconds(3);
  r.time_to_first_byte = std::chrono::milliseconds(9);
  r.streaming = std::chrono::milliseconds(1);
  r.total_request_time = std::chrono::milliseconds(12);
  r.generic_info = {{"BackendConn", "reused"}, {"Affinity", "cookie"}};
  return r;
}

}  // namespace accesslog_test
