// Round trip: records through the writer, read back as CSV, filtered like CSS-Exchange's
// FindFrontEndActivity.ps1 (RT:Execute, AuthenticatedUser ending in \alice, slow requests).
#include <gtest/gtest.h>

#include <set>

#include "accesslog/format.hpp"
#include "accesslog/writer.hpp"
#include "test_support.hpp"

namespace accesslog {
namespace {

using namespace accesslog_test;

TEST(CsvRoundTrip, FindFrontEndActivityFilterFindsExactlyTheIntendedRows) {
  temp_dir dir;
  manual_clock clock(test_time());
  const std::vector<std::string> users = {"CONTOSO\\alice", "CONTOSO\\bob", "CONTOSO\\malice",
                                          "CONTOSO\\alice2", "alice"};
  const std::vector<std::string> types = {"Execute", "Connect", "Disconnect", "NotificationWait"};
  const std::vector<int> totals = {5, 1000, 1001, 4321};

  std::set<std::string> expected;
  {
    writer w({.directory = dir.path(),
              .version = {0, 1, 0, 0},
              .max_file_bytes = 16 * 1024,
              .clock = clock.fn()});
    int n = 0;
    for (const auto& user : users) {
      for (const auto& type : types) {
        for (const int total : totals) {
          auto r = mapi_execute();
          r.x_request_id = "id" + std::to_string(n++);
          r.x_request_type = type;
          r.authenticated_user = user;
          r.total_request_time = std::chrono::milliseconds(total);
          // Hostile clients try to look like alice's slow Execute calls from other columns.
          r.user_agent = "\"ua,CONTOSO\\alice,RT:Execute,99999\r\nforged,";
          r.generic_info = {{"note", "AuthenticatedUser=CONTOSO\\alice;TotalRequestTime=9999"}};
          if (user == "CONTOSO\\alice" && type == "Execute" && total > 1000) {
            expected.insert(r.x_request_id);
          }
          ASSERT_TRUE(w.submit(std::move(r)));
        }
      }
    }
    w.stop();
    ASSERT_EQ(w.records_written(), std::uint64_t(n));
  }
  ASSERT_EQ(expected.size(), 2u);

  const auto folder = dir.path() / "HttpProxy" / "Mapi";
  const auto files = names_in(folder);
  ASSERT_GT(files.size(), 1u);
  std::set<std::string> found;
  std::size_t rows = 0;
  for (const auto& name : files) {
    const auto csv = read_csv(read_all(folder / name));
    ASSERT_EQ(csv.columns.size(), 74u);
    for (const auto width : csv.widths)
      EXPECT_EQ(width, 74u) << name;
    for (const auto& row : csv.rows) {
      ++rows;
      const auto& cri = row.at("ClientRequestId");
      const auto& user = row.at("AuthenticatedUser");
      const int total = std::stoi(row.at("TotalRequestTime"));
      if (cri.find("RT:Execute") != std::string::npos && user.ends_with("\\alice") &&
          total > 1000) {
        found.insert(cri.substr(2, cri.find(';') - 2));
      }
    }
  }
  EXPECT_EQ(rows, users.size() * types.size() * totals.size());
  EXPECT_EQ(found, expected);
}

}  // namespace
}  // namespace accesslog
