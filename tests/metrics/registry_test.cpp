// Registry and per-snapshot handles: every series exists at zero once a snapshot is loaded, and
// a request moves exactly the series its labels name.
#include <gtest/gtest.h>

#include <sstream>

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
      R"(mapigate_requests_total{code_class="2xx",namespace="external",request_type="NotificationWait",vdir="emsmdb"})";
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
  EXPECT_EQ(sample(after, R"(mapigate_mapi_responses_total{code="0"})"), 1);
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

}  // namespace
