// writer tests: concurrent submitters, bounded queue and drop accounting, flushing, errors.
#include "accesslog/writer.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "accesslog/format.hpp"
#include "test_support.hpp"

namespace accesslog {
namespace {

namespace fs = std::filesystem;
using namespace accesslog_test;

class Writer : public ::testing::Test {
 protected:
  writer_options options() {
    return {.directory = dir_.path(), .version = {0, 1, 0, 0}, .clock = clock_.fn()};
  }
  static record numbered(const std::string& id, std::string protocol = "Mapi") {
    auto r = mapi_execute();
    r.x_request_id = id;
    r.protocol = std::move(protocol);
    return r;
  }
  // All lines of all files in one protocol folder, files in write order.
  std::vector<std::string> lines_in(const std::string& family) const {
    std::vector<std::string> out;
    const auto folder = dir_.path() / "HttpProxy" / family;
    for (const auto& name : logs_in_order(folder)) {
      for (auto& l : crlf_lines(read_all(folder / name)))
        out.push_back(std::move(l));
    }
    return out;
  }
  // Every record of every file in one protocol folder, each file read as Import-Csv reads it
  // (each begins with its own header line), files in write order.
  std::vector<std::map<std::string, std::string>> rows_in(const std::string& family) const {
    std::vector<std::map<std::string, std::string>> out;
    const auto folder = dir_.path() / "HttpProxy" / family;
    for (const auto& name : logs_in_order(folder)) {
      auto rows = read_csv(read_all(folder / name)).rows;
      out.insert(out.end(), rows.begin(), rows.end());
    }
    return out;
  }
  // The X-RequestId (R: part of ClientRequestId) of every record line.
  std::vector<std::string> request_ids(const std::string& family) const {
    std::vector<std::string> out;
    for (const auto& row : rows_in(family)) {
      const auto& cri = row.at("ClientRequestId");
      out.push_back(cri.substr(2, cri.find(';') - 2));
    }
    return out;
  }

  temp_dir dir_;
  manual_clock clock_{test_time()};
};

TEST_F(Writer, RecordsFromFourThreadsAreWrittenExactlyOnce) {
  constexpr int threads = 4, per_thread = 500;
  auto o = options();
  o.max_file_bytes = 64 * 1024;  // several files
  writer w(o);
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&w, t] {
      for (int i = 0; i < per_thread; ++i) {
        EXPECT_TRUE(w.submit(numbered("t" + std::to_string(t) + "-" + std::to_string(i))));
      }
    });
  }
  for (auto& s : submitters)
    s.join();
  w.stop();
  EXPECT_EQ(w.records_written(), threads * per_thread);
  EXPECT_EQ(w.records_dropped(), 0u);
  EXPECT_EQ(w.write_errors(), 0u);
  EXPECT_GT(names_in(dir_.path() / "HttpProxy" / "Mapi").size(), 1u);

  const auto ids = request_ids("Mapi");
  EXPECT_EQ(ids.size(), std::size_t(threads * per_thread));
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), std::size_t(threads * per_thread));
  // Each submitter's records keep their order.
  std::map<char, int> next;
  for (const auto& id : ids) {
    const int i = std::stoi(id.substr(id.find('-') + 1));
    EXPECT_EQ(i, next[id[1]]++) << id;
  }
}

TEST_F(Writer, FullQueueDropsAreCountedAndLogged) {
  auto o = options();
  o.queue_capacity = 4;
  o.start_paused = true;  // nothing drains until resume()
  writer w(o);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(w.submit(numbered("a" + std::to_string(i))), i < 4) << i;
  }
  EXPECT_EQ(w.records_dropped(), 6u);
  w.resume();
  ASSERT_TRUE(w.wait_written(4, 30s));
  EXPECT_TRUE(w.submit(numbered("b0")));
  w.stop();
  EXPECT_EQ(w.records_written(), 5u);
  EXPECT_EQ(w.records_dropped(), 6u);

  const auto lines = lines_in("Mapi");
  ASSERT_EQ(lines.size(), 6u + 1u + 5u);  // header, #Dropped, 5 records
  EXPECT_EQ(lines[6], "#Dropped: 6 records");
  EXPECT_EQ(request_ids("Mapi"), (std::vector<std::string>{"a0", "a1", "a2", "a3", "b0"}));
}

TEST_F(Writer, StopFlushesEverythingQueuedAndIsIdempotent) {
  auto o = options();
  o.start_paused = true;
  writer w(o);
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(w.submit(numbered(std::to_string(i))));
  w.stop();  // never resumed: stop still writes all 100
  w.stop();
  EXPECT_EQ(w.records_written(), 100u);
  EXPECT_EQ(request_ids("Mapi").size(), 100u);
  EXPECT_FALSE(w.submit(numbered("late")));
  EXPECT_EQ(w.records_dropped(), 1u);
}

TEST_F(Writer, WrittenRecordsReachTheFileWithoutStop) {
  writer w(options());
  ASSERT_TRUE(w.submit(numbered("first")));
  ASSERT_TRUE(w.wait_written(1, 30s));
  EXPECT_EQ(request_ids("Mapi"), (std::vector<std::string>{"first"}));  // flushed per batch
  EXPECT_FALSE(w.wait_written(2, 10ms));
}

TEST_F(Writer, FillsRequestIdAndVersionAndSplitsByProtocol) {
  writer w(options());
  auto r = numbered("x");
  r.request_id.clear();
  ASSERT_TRUE(w.submit(std::move(r)));
  ASSERT_TRUE(w.submit(numbered("y", "Autodiscover")));
  ASSERT_TRUE(w.submit(numbered("z", "../../etc")));
  w.stop();
  const auto mapi = rows_in("Mapi");
  ASSERT_EQ(mapi.size(), 1u);
  EXPECT_EQ(mapi[0].at("RequestId").size(), 36u);
  EXPECT_EQ(mapi[0].at("MinorVersion"), "1");
  EXPECT_EQ(lines_in("Mapi")[2], "#Version: 00.01.0000.000");
  EXPECT_EQ(request_ids("Autodiscover"), (std::vector<std::string>{"y"}));
  EXPECT_EQ(request_ids("Unknown"), (std::vector<std::string>{"z"}));
  EXPECT_EQ(names_in(dir_.path() / "HttpProxy"),
            (std::vector<std::string>{"Autodiscover", "Mapi", "Unknown"}));
}

TEST_F(Writer, WriteErrorsAreCountedNotThrown) {
  write_file(dir_.path() / "blocker", 1);
  auto o = options();
  o.directory = dir_.path() / "blocker";
  writer w(o);
  EXPECT_TRUE(w.submit(numbered("1")));
  EXPECT_TRUE(w.submit(numbered("2")));
  w.stop();
  EXPECT_EQ(w.write_errors(), 2u);
  EXPECT_EQ(w.records_written(), 0u);
}

}  // namespace
}  // namespace accesslog
