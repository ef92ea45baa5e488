// The wan22 bench results database: runs, samples, baselines, history, bad files.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <fstream>

#include "bench/results_db.h"
#include "bench/stats.h"
#include "core/status.h"
#include "test_util.h"

using namespace wan22::bench;

namespace {

Machine machine_a() {
  Machine m;
  m.cpu = "Test CPU 9000";
  m.logical_cores = 8;
  m.physical_cores = 4;
  m.ram_bytes = 16ull << 30;
  m.os = "Linux 6.1";
  return m;
}

RunRecord make_run(double scale, int threads, const std::string& suite = "quick") {
  RunRecord r;
  r.machine = machine_a();
  r.threads = threads;
  r.revision = "abc1234";
  r.date = "2026-11-28T10:00:00Z";
  r.suite = suite;
  r.device = "cpu";
  r.model = "demo";
  r.metrics.push_back(
      timing_metric("video_2s_s", {1.0 * scale, 1.1 * scale, 0.9 * scale}, "49 frames"));
  Metric fps;
  fps.name = "throughput_fps";
  fps.unit = "frames/s";
  fps.better = Better::kHigher;
  fps.samples = {49 / scale};
  fps.value = 49 / scale;
  r.metrics.push_back(fps);
  Metric nan = timing_metric("empty_s", {});  // a metric without samples: value NaN
  r.metrics.push_back(nan);
  r.stages = {{"text_encode", 0.1 * scale}, {"denoise", 0.6 * scale}, {"vae_decode", 0.3 * scale}};
  r.stages_of = "the 2-second video";
  return r;
}

}  // namespace

TEST(BenchDb, RunRoundTripsWithSamples) {
  const std::string path =
      wan22::test::temp_dir() + "/sub/dir/bench.sqlite";  // directories are created
  ResultsDb db = ResultsDb::open(path);
  RunRecord in = make_run(1.0, 2);
  const int64_t id = db.save_run(in);
  EXPECT_GT(id, 0);
  RunRecord out = db.load_run(id);
  EXPECT_EQ(out.id, id);
  EXPECT_EQ(out.machine.cpu, in.machine.cpu);
  EXPECT_EQ(out.machine.fingerprint(), in.machine.fingerprint());
  EXPECT_EQ(out.machine.os, "Linux 6.1");
  EXPECT_EQ(out.threads, 2);
  EXPECT_EQ(out.revision, "abc1234");
  EXPECT_EQ(out.suite, "quick");
  ASSERT_EQ(out.metrics.size(), 3u);
  EXPECT_EQ(out.metrics[0].name, "video_2s_s");
  EXPECT_DOUBLE_EQ(out.metrics[0].value, 1.0);
  ASSERT_EQ(out.metrics[0].samples.size(), 3u);
  EXPECT_DOUBLE_EQ(out.metrics[0].samples[1], 1.1);  // sample order kept
  EXPECT_EQ(out.metrics[0].note, "49 frames");
  EXPECT_EQ(out.metrics[1].better, Better::kHigher);
  EXPECT_EQ(out.metrics[1].unit, "frames/s");
  EXPECT_TRUE(std::isnan(out.metrics[2].value));  // NaN survives as NULL
  ASSERT_EQ(out.stages.size(), 3u);
  EXPECT_EQ(out.stages[1].name, "denoise");
  EXPECT_DOUBLE_EQ(out.stages[1].seconds, 0.6);
  EXPECT_EQ(out.stages_of, "the 2-second video");
}

TEST(BenchDb, ReopenKeepsRunsAndBaselines) {
  const std::string path = wan22::test::temp_dir() + "/bench.sqlite";
  int64_t id1 = 0, id2 = 0;
  {
    ResultsDb db = ResultsDb::open(path);
    id1 = db.save_run(make_run(1.0, 2));
    id2 = db.save_run(make_run(2.0, 1));
    db.save_baseline("base", id1);
  }
  ResultsDb db = ResultsDb::open(path);
  ASSERT_TRUE(db.baseline_run("base").has_value());
  EXPECT_EQ(*db.baseline_run("base"), id1);
  EXPECT_FALSE(db.baseline_run("nope").has_value());
  db.save_baseline("base", id2);  // replaced
  EXPECT_EQ(*db.baseline_run("base"), id2);
  db.save_baseline("other", id1);
  EXPECT_EQ(db.baseline_names(), (std::vector<std::string>{"base", "other"}));

  auto runs = db.runs(10);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, id2);  // newest first
  EXPECT_EQ(runs[0].threads, 1);
  EXPECT_EQ(runs[0].metric_count, 3);
  EXPECT_EQ(runs[0].baselines, std::vector<std::string>{"base"});
  EXPECT_EQ(runs[1].baselines, std::vector<std::string>{"other"});
  EXPECT_EQ(runs[1].fingerprint, machine_a().fingerprint());
  EXPECT_EQ(db.runs(1).size(), 1u);
}

TEST(BenchDb, HistoryFiltersAndOrders) {
  ResultsDb db = ResultsDb::open(wan22::test::temp_dir() + "/bench.sqlite");
  db.save_run(make_run(1.0, 2));
  db.save_run(make_run(1.5, 2, "full"));
  RunRecord other = make_run(3.0, 2);
  other.machine.cpu = "Other CPU";
  db.save_run(other);
  const int64_t last = db.save_run(make_run(2.0, 1));

  auto all = db.history("video_2s_s");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_DOUBLE_EQ(all.front().value, 1.0);  // oldest first
  EXPECT_EQ(all.back().run_id, last);

  HistoryFilter f;
  f.fingerprint = machine_a().fingerprint();
  f.suite = "quick";
  auto mine = db.history("video_2s_s", f);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_DOUBLE_EQ(mine[0].value, 1.0);
  EXPECT_DOUBLE_EQ(mine[1].value, 2.0);
  EXPECT_EQ(mine[1].threads, 1);
  EXPECT_NEAR(mine[0].band, 0.1, 1e-12);  // samples 0.9..1.1 around 1.0

  f.limit = 1;
  auto newest = db.history("video_2s_s", f);
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].run_id, last);
  EXPECT_TRUE(db.history("no_such_metric").empty());
}

TEST(BenchDb, MissingRunIsNotFound) {
  ResultsDb db = ResultsDb::open(wan22::test::temp_dir() + "/bench.sqlite");
  try {
    db.load_run(42);
    FAIL() << "no error";
  } catch (const wan22::Error& e) {
    EXPECT_EQ(e.code(), wan22::ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("no run 42"), std::string::npos) << e.what();
  }
}

TEST(BenchDb, NotADatabaseIsAClearError) {
  const std::string path = wan22::test::temp_dir() + "/garbage.sqlite";
  {
    std::ofstream out(path);
    out << "this is not an SQLite file, just some text that is long enough to be a "
           "header...........";
  }
  try {
    ResultsDb::open(path);
    FAIL() << "no error";
  } catch (const wan22::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(BenchDb, ForeignSqliteFileIsRefusedUntouched) {
  const std::string path = wan22::test::temp_dir() + "/other.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE customers(id INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    ResultsDb::open(path);
    FAIL() << "no error";
  } catch (const wan22::Error& e) {
    EXPECT_EQ(e.code(), wan22::ErrorCode::kCorruptData);
    EXPECT_NE(std::string(e.what()).find("other tables"), std::string::npos) << e.what();
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);  // still only its own table
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(BenchDb, UnwritableLocationNamesThePath) {
  try {
    ResultsDb::open("/proc/wan22-no/bench.sqlite");
    FAIL() << "no error";
  } catch (const wan22::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/wan22-no/bench.sqlite"), std::string::npos)
        << e.what();
  }
}

TEST(BenchDb, FingerprintSeparatesMachines) {
  Machine a = machine_a(), b = machine_a();
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.fingerprint().size(), 16u);
  b.gpu = "NVIDIA H200";
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  b = machine_a();
  b.logical_cores = 16;
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  b = machine_a();
  b.os = "Linux 6.2";  // the kernel is not part of the hardware
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
}
