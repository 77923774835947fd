// Registry and per-snapshot handles: every series exists at zero once a snapshot is loaded, and
// a request moves exactly the series its labels name.
#include <gtest/gtest.h>

#include <ctime>
#include <regex>
#include <sstream>

#include "metrics/process.hpp"
#include "metrics/registry.hpp"

namespace {

double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

config::snapshot two_backends() {
  config::snapshot s;
  s.backends.push_back({.name = "mbx01"});
  s.backends.push_back({.name = "mbx02"});
  return s;
}

TEST(Registry, SeriesExistAtZeroAndMoveByExactlyOne) {
  metrics::registry r({"1.2.3", "1_81", "OpenSSL 3.0.15"});
  const auto cfg = two_backends();
  metrics::handles h(r, cfg);
  const auto before = r.serialize();
  const std::string nw =
      R"(mapigate_requests_total{code_class="2xx",mapi_namespace="external",request_type="NotificationWait",vdir="emsmdb"})";
  EXPECT_EQ(sample(before, nw), 0);
  EXPECT_EQ(sample(before,
                   R"(mapigate_build_info{boost="1_81",openssl="OpenSSL 3.0.15",version="1.2.3"})"),
            1);

  metrics::request_sample s;
  s.ns = 1;
  s.vdir = metrics::vdir_label::emsmdb;
  s.request_type = metrics::request_type_index(s.vdir, "NotificationWait");
  s.backend = 1;
  s.http_status = 200;
  s.seconds = 300;
  s.mapi_code = 0;
  h.request(s);
  const auto after = r.serialize();
  EXPECT_EQ(sample(after, nw), 1);
  EXPECT_EQ(
      sample(after,
             R"(mapigate_backend_requests_total{backend="mbx02",code_class="2xx",vdir="emsmdb"})"),
      1);
  EXPECT_EQ(sample(after, R"(mapigate_mapi_responses_total{mapi_code="0"})"), 1);
  // A five-minute long-poll lands in its own histogram, not in the request latency buckets.
  EXPECT_EQ(sample(after, "mapigate_notification_wait_duration_seconds_count"), 1);
  EXPECT_EQ(
      sample(after,
             R"(mapigate_request_duration_seconds_count{request_type="Execute",vdir="emsmdb"})"),
      0);
}

TEST(Registry, MirroredTotalsAndReloads) {
  metrics::registry r({});
  metrics::registry::process_view v;
  v.log_dropped = 7;
  v.affinity[1] = 3;
  r.set_process(v);
  r.set_process(v);  // a second scrape with the same totals adds nothing
  r.config_loaded(true, 1'700'000'000);
  r.config_loaded(false, 1'700'000'100);
  const auto text = r.serialize();
  EXPECT_EQ(sample(text, "mapigate_log_records_dropped_total"), 7);
  EXPECT_EQ(sample(text, R"(mapigate_affinity_requests_total{outcome="hit"})"), 3);
  EXPECT_EQ(sample(text, R"(mapigate_config_reloads_total{result="success"})"), 1);
  EXPECT_EQ(sample(text, R"(mapigate_config_reloads_total{result="failure"})"), 1);
  EXPECT_EQ(sample(text, "mapigate_config_last_reload_success_timestamp_seconds"), 1.7e9);
}

TEST(Registry, LogonStepsBytesAndBackendGauges) {
  metrics::registry r({});
  const auto cfg = two_backends();
  metrics::handles h(r, cfg);
  metrics::request_sample s;
  s.ns = 0;
  s.vdir = metrics::vdir_label::emsmdb;
  s.request_type = metrics::request_type_index(s.vdir, "Connect");
  s.http_status = 401;
  s.auth_step = true;  // Outlook's anonymous first request, then its NTLM type 1
  h.request(s);
  h.request(s);
  s.auth_step = false;  // a wrong password
  s.request_bytes = 300;
  s.response_bytes = 120;
  h.request(s);
  h.set_backend(1, {.up = true, .upstream_connections = 4, .sessions = 3, .cordoned = true});
  const auto text = r.serialize();
  const std::string base =
      R"(mapigate_requests_total{code_class="CLASS",mapi_namespace="internal",request_type="Connect",vdir="emsmdb"})";
  auto with = [&](const std::string& cls) {
    return sample(text, std::regex_replace(base, std::regex("CLASS"), cls));
  };
  EXPECT_EQ(with("auth_challenge"), 2);
  EXPECT_EQ(with("4xx"), 1);
  EXPECT_EQ(sample(text, R"(mapigate_request_bytes_total{vdir="emsmdb"})"), 300);
  EXPECT_EQ(sample(text, R"(mapigate_response_bytes_total{vdir="emsmdb"})"), 120);
  EXPECT_EQ(sample(text, R"(mapigate_backend_sessions{backend="mbx02"})"), 3);
  EXPECT_EQ(sample(text, R"(mapigate_backend_cordoned{backend="mbx02"})"), 1);
  EXPECT_EQ(sample(text, R"(mapigate_backend_draining{backend="mbx02"})"), 0);
  EXPECT_EQ(sample(text, R"(mapigate_backend_cordoned{backend="mbx01"})"), 0);
}

TEST(Registry, ProcessMetricsComeFromProc) {
  metrics::registry r({});
  r.read_process();
  const auto text = r.serialize();
  EXPECT_GT(sample(text, "process_open_fds"), 2);  // stdin, stdout, stderr at least
  EXPECT_GE(sample(text, "process_max_fds"), sample(text, "process_open_fds"));
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(sample(text, "process_virtual_memory_bytes"),
            sample(text, "process_resident_memory_bytes"));
  EXPECT_GE(sample(text, "process_cpu_seconds_total"), 0);
  const double start = sample(text, "process_start_time_seconds");
  const double now = double(std::time(nullptr));
  EXPECT_GT(start, now - 3600);  // this test process started less than an hour ago
  EXPECT_LE(start, now + 1);
}

TEST(ProcessStat, ParsesTheKernelsLine) {
  // comm with a space and a ')' in it: fields start after the last ')'.
  const std::string line =
      "4242 (map igate) w) S 1 4242 4242 0 -1 4194560 2191 0 0 0 150 37 0 0 20 0 3 0 "
      "98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  const auto f = metrics::parse_proc_stat(line);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->utime, 150u);
  EXPECT_EQ(f->stime, 37u);
  EXPECT_EQ(f->starttime, 98765u);
  EXPECT_EQ(f->vsize, 123456789u);
  EXPECT_EQ(f->rss_pages, 2048);
  EXPECT_FALSE(metrics::parse_proc_stat(""));
  EXPECT_FALSE(metrics::parse_proc_stat("4242 (x) S 1 2 3"));  // too few fields
  EXPECT_FALSE(metrics::parse_proc_stat("no parenthesis at all 1 2 3 4 5 6 7 8 9 10 11 12"));
  EXPECT_FALSE(metrics::parse_proc_stat(std::regex_replace(line, std::regex(" 150 "), " x ")));
}

}  // namespace
