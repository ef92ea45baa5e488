// The benchmark results database (SQLite): every run with its machine, git revision, date, suite,
// metrics and their samples; named baselines pointing at runs. Schema: docs/bench.md.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/run_record.h"

struct sqlite3;

namespace wan22::bench {

// $XDG_CACHE_HOME/wan22/bench.sqlite, else ~/.cache/wan22/bench.sqlite, else
// /tmp/wan22-bench.sqlite.
std::string default_db_path();

struct RunSummary {
  int64_t id = 0;
  std::string date, revision, suite, device, model;
  int threads = 0;
  std::string cpu, gpu, fingerprint;
  int metric_count = 0;
  std::vector<std::string> baselines;  // baseline names pointing at this run
};

struct HistoryPoint {
  int64_t run_id = 0;
  std::string date, revision;
  int threads = 0;
  double value = 0;
  double band = 0;  // noise band of that run's samples
};

struct HistoryFilter {
  std::string fingerprint;  // "" = any machine
  std::string suite;        // "" = any suite
  std::string device;       // "" = any device
  std::string model;        // "" = any model
  int limit = 50;           // the newest `limit` points, returned oldest first
};

class ResultsDb {
 public:
  // Opens (creating the file, its directory and the schema when needed). Throws Error(kIoError)
  // naming the path when it cannot, Error(kCorruptData) when the file is not a wan22 results DB.
  static ResultsDb open(const std::string& path);
  ~ResultsDb();
  ResultsDb(ResultsDb&& o) noexcept;
  ResultsDb& operator=(ResultsDb&& o) noexcept;
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  const std::string& path() const { return path_; }

  // Stores a run (metrics and samples in one transaction); returns its id.
  int64_t save_run(const RunRecord& run);
  // Throws Error(kNotFound) naming the id when there is no such run.
  RunRecord load_run(int64_t id) const;

  // Points `name` at a run (replacing an earlier baseline of that name).
  void save_baseline(const std::string& name, int64_t run_id);
  std::optional<int64_t> baseline_run(const std::string& name) const;
  std::vector<std::string> baseline_names() const;

  // Newest first.
  std::vector<RunSummary> runs(int limit = 50) const;
  // One metric over the stored runs that pass the filter, oldest first.
  std::vector<HistoryPoint> history(const std::string& metric, const HistoryFilter& f = {}) const;

 private:
  ResultsDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void exec(const char* sql) const;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace wan22::bench
