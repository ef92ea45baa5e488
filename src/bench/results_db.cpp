#include "bench/results_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "core/status.h"

namespace fs = std::filesystem;

namespace wan22::bench {

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS machines (
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  cpu TEXT NOT NULL,
  logical_cores INTEGER NOT NULL,
  physical_cores INTEGER NOT NULL,
  ram_bytes INTEGER NOT NULL,
  gpu TEXT NOT NULL,
  driver TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  machine_id INTEGER NOT NULL REFERENCES machines(id),
  date TEXT NOT NULL,
  revision TEXT NOT NULL,
  suite TEXT NOT NULL,
  device TEXT NOT NULL,
  model TEXT NOT NULL,
  threads INTEGER NOT NULL,
  cuda TEXT NOT NULL,
  os TEXT NOT NULL,
  stages_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  unit TEXT NOT NULL,
  better TEXT NOT NULL,
  note TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS samples (
  run_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  idx INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, name, idx),
  FOREIGN KEY (run_id, name) REFERENCES metrics(run_id, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS baselines (
  name TEXT PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics(name);
)SQL";

[[noreturn]] void db_error(sqlite3* db, const std::string& path, const std::string& what) {
  throw Error(ErrorCode::kIoError,
              "results database " + path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "?"));
}

// A prepared statement with positional binds (1-based) and typed column reads (0-based).
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) db_error(db, path, "prepare");
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& s) {
    check(sqlite3_bind_text(st_, i, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(st_, i, v));
    return *this;
  }
  Stmt& bind(int i, double v) {
    // NaN is stored as NULL (SQLite has no NaN) and read back as NaN.
    check(v != v ? sqlite3_bind_null(st_, i) : sqlite3_bind_double(st_, i, v));
    return *this;
  }
  // true while there is a row
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_error(db_, path_, "step");
  }
  void run() {
    while (step()) {
    }
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int c) const {
    const unsigned char* p = sqlite3_column_text(st_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double real(int c) const {
    return sqlite3_column_type(st_, c) == SQLITE_NULL ? std::numeric_limits<double>::quiet_NaN()
                                                      : sqlite3_column_double(st_, c);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) db_error(db_, path_, "bind");
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace

std::string default_db_path() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/wan22/bench.sqlite";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::string(h) + "/.cache/wan22/bench.sqlite";
  return "/tmp/wan22-bench.sqlite";
}

ResultsDb ResultsDb::open(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  if (ec)
    throw Error(ErrorCode::kIoError,
                "results database " + path + ": cannot create its directory: " + ec.message());
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw Error(ErrorCode::kIoError, "results database " + path + ": cannot open: " + msg);
  }
  ResultsDb r(db, path);
  sqlite3_busy_timeout(db, 10000);
  // A file that is not a database fails here ("file is not a database").
  int version = 0;
  {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
      std::string msg = sqlite3_errmsg(db);
      sqlite3_finalize(st);
      throw Error(ErrorCode::kCorruptData,
                  "results database " + path + ": not readable as SQLite: " + msg);
    }
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (version > kSchemaVersion) {
    throw Error(ErrorCode::kUnsupported, "results database " + path + " has schema version " +
                                             std::to_string(version) + "; this wan22 knows up to " +
                                             std::to_string(kSchemaVersion));
  }
  if (version == 0) {
    // A fresh file, or a foreign SQLite database: refuse to write into one with other tables.
    Stmt t(db, r.path_,
           "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT IN "
           "('machines','runs','metrics','samples','baselines')");
    t.step();
    if (t.i64(0) > 0) {
      throw Error(ErrorCode::kCorruptData,
                  "results database " + path +
                      " is an SQLite file of something else (it has other tables)");
    }
  }
  r.exec("PRAGMA foreign_keys = ON");
  r.exec("PRAGMA journal_mode = WAL");
  r.exec(kSchema);
  r.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  return r;
}

ResultsDb::~ResultsDb() { sqlite3_close(db_); }
ResultsDb::ResultsDb(ResultsDb&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) {
  o.db_ = nullptr;
}
ResultsDb& ResultsDb::operator=(ResultsDb&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    o.db_ = nullptr;
  }
  return *this;
}

void ResultsDb::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(ErrorCode::kIoError, "results database " + path_ + ": " + msg);
  }
}

int64_t ResultsDb::save_run(const RunRecord& run) {
  exec("BEGIN IMMEDIATE");
  try {
    const Machine& m = run.machine;
    const std::string fp = m.fingerprint();
    Stmt ins(db_, path_,
             "INSERT OR IGNORE INTO machines(fingerprint, cpu, logical_cores, physical_cores, "
             "ram_bytes, gpu, driver) "
             "VALUES (?,?,?,?,?,?,?)");
    ins.bind(1, fp)
        .bind(2, m.cpu)
        .bind(3, int64_t{m.logical_cores})
        .bind(4, int64_t{m.physical_cores});
    ins.bind(5, static_cast<int64_t>(m.ram_bytes)).bind(6, m.gpu).bind(7, m.driver).run();
    Stmt sel(db_, path_, "SELECT id FROM machines WHERE fingerprint = ?");
    sel.bind(1, fp);
    if (!sel.step()) db_error(db_, path_, "machine row vanished");
    const int64_t machine_id = sel.i64(0);

    nlohmann::json stage_list = nlohmann::json::array();
    for (const auto& s : run.stages)
      stage_list.push_back({{"name", s.name}, {"seconds", s.seconds}});
    const nlohmann::json stages = {{"of", run.stages_of}, {"stages", stage_list}};
    Stmt r(db_, path_,
           "INSERT INTO runs(machine_id, date, revision, suite, device, model, threads, cuda, os, "
           "stages_json) "
           "VALUES (?,?,?,?,?,?,?,?,?,?)");
    r.bind(1, machine_id)
        .bind(2, run.date)
        .bind(3, run.revision)
        .bind(4, run.suite)
        .bind(5, run.device);
    r.bind(6, run.model)
        .bind(7, int64_t{run.threads})
        .bind(8, m.cuda)
        .bind(9, m.os)
        .bind(10, stages.dump())
        .run();
    const int64_t run_id = sqlite3_last_insert_rowid(db_);

    Stmt mi(db_, path_,
            "INSERT INTO metrics(run_id, name, value, unit, better, note) VALUES (?,?,?,?,?,?)");
    Stmt si(db_, path_, "INSERT INTO samples(run_id, name, idx, value) VALUES (?,?,?,?)");
    for (const auto& met : run.metrics) {
      mi.reset();
      mi.bind(1, run_id)
          .bind(2, met.name)
          .bind(3, met.value)
          .bind(4, met.unit)
          .bind(5, std::string(better_name(met.better)));
      mi.bind(6, met.note).run();
      for (size_t i = 0; i < met.samples.size(); ++i) {
        si.reset();
        si.bind(1, run_id)
            .bind(2, met.name)
            .bind(3, static_cast<int64_t>(i))
            .bind(4, met.samples[i])
            .run();
      }
    }
    exec("COMMIT");
    return run_id;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

RunRecord ResultsDb::load_run(int64_t id) const {
  Stmt q(db_, path_,
         "SELECT r.date, r.revision, r.suite, r.device, r.model, r.threads, r.cuda, r.os, "
         "r.stages_json, "
         "m.cpu, m.logical_cores, m.physical_cores, m.ram_bytes, m.gpu, m.driver "
         "FROM runs r JOIN machines m ON m.id = r.machine_id WHERE r.id = ?");
  q.bind(1, id);
  if (!q.step())
    throw Error(ErrorCode::kNotFound,
                "results database " + path_ + " has no run " + std::to_string(id));
  RunRecord run;
  run.id = id;
  run.date = q.text(0);
  run.revision = q.text(1);
  run.suite = q.text(2);
  run.device = q.text(3);
  run.model = q.text(4);
  run.threads = static_cast<int>(q.i64(5));
  run.machine.cuda = q.text(6);
  run.machine.os = q.text(7);
  try {
    // {"of": label, "stages": [{"name", "seconds"}, ...]}
    const nlohmann::json st = nlohmann::json::parse(q.text(8));
    run.stages_of = st.at("of").get<std::string>();
    for (const auto& s : st.at("stages")) run.stages.push_back({s.at("name"), s.at("seconds")});
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorruptData, "results database " + path_ + ": run " +
                                             std::to_string(id) +
                                             " has unreadable stages: " + e.what());
  }
  run.machine.cpu = q.text(9);
  run.machine.logical_cores = static_cast<int>(q.i64(10));
  run.machine.physical_cores = static_cast<int>(q.i64(11));
  run.machine.ram_bytes = static_cast<uint64_t>(q.i64(12));
  run.machine.gpu = q.text(13);
  run.machine.driver = q.text(14);

  std::map<std::string, size_t> index;
  Stmt mq(db_, path_,
          "SELECT name, value, unit, better, note FROM metrics WHERE run_id = ? ORDER BY rowid");
  mq.bind(1, id);
  while (mq.step()) {
    Metric m;
    m.name = mq.text(0);
    m.value = mq.real(1);
    m.unit = mq.text(2);
    if (!parse_better(mq.text(3), &m.better)) {
      throw Error(ErrorCode::kCorruptData, "results database " + path_ + ": metric " + m.name +
                                               " of run " + std::to_string(id) + " has better='" +
                                               mq.text(3) + "'");
    }
    m.note = mq.text(4);
    index[m.name] = run.metrics.size();
    run.metrics.push_back(std::move(m));
  }
  Stmt sq(db_, path_, "SELECT name, value FROM samples WHERE run_id = ? ORDER BY name, idx");
  sq.bind(1, id);
  while (sq.step()) {
    auto it = index.find(sq.text(0));
    if (it != index.end()) run.metrics[it->second].samples.push_back(sq.real(1));
  }
  return run;
}

void ResultsDb::save_baseline(const std::string& name, int64_t run_id) {
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "a baseline needs a non-empty name");
  Stmt q(db_, path_, "INSERT OR REPLACE INTO baselines(name, run_id, created) VALUES (?,?,?)");
  q.bind(1, name).bind(2, run_id).bind(3, now_iso8601()).run();
}

std::optional<int64_t> ResultsDb::baseline_run(const std::string& name) const {
  Stmt q(db_, path_, "SELECT run_id FROM baselines WHERE name = ?");
  q.bind(1, name);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::vector<std::string> ResultsDb::baseline_names() const {
  Stmt q(db_, path_, "SELECT name FROM baselines ORDER BY name");
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::vector<RunSummary> ResultsDb::runs(int limit) const {
  Stmt q(db_, path_,
         "SELECT r.id, r.date, r.revision, r.suite, r.device, r.model, r.threads, m.cpu, m.gpu, "
         "m.fingerprint, "
         "(SELECT count(*) FROM metrics x WHERE x.run_id = r.id), "
         "(SELECT group_concat(b.name, ',') FROM baselines b WHERE b.run_id = r.id) "
         "FROM runs r JOIN machines m ON m.id = r.machine_id ORDER BY r.id DESC LIMIT ?");
  q.bind(1, int64_t{limit});
  std::vector<RunSummary> out;
  while (q.step()) {
    RunSummary s;
    s.id = q.i64(0);
    s.date = q.text(1);
    s.revision = q.text(2);
    s.suite = q.text(3);
    s.device = q.text(4);
    s.model = q.text(5);
    s.threads = static_cast<int>(q.i64(6));
    s.cpu = q.text(7);
    s.gpu = q.text(8);
    s.fingerprint = q.text(9);
    s.metric_count = static_cast<int>(q.i64(10));
    std::string b = q.text(11);
    for (size_t pos = 0; !b.empty() && pos <= b.size();) {
      size_t comma = b.find(',', pos);
      if (comma == std::string::npos) comma = b.size();
      s.baselines.push_back(b.substr(pos, comma - pos));
      pos = comma + 1;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<HistoryPoint> ResultsDb::history(const std::string& metric,
                                             const HistoryFilter& f) const {
  // Empty filter fields match anything (the ? = '' OR column = ? pattern).
  Stmt q(
      db_, path_,
      "SELECT r.id, r.date, r.revision, r.threads, x.value FROM metrics x "
      "JOIN runs r ON r.id = x.run_id JOIN machines m ON m.id = r.machine_id "
      "WHERE x.name = ?1 AND (?2 = '' OR m.fingerprint = ?2) AND (?3 = '' OR r.suite = ?3) "
      "AND (?4 = '' OR r.device = ?4) AND (?5 = '' OR r.model = ?5) ORDER BY r.id DESC LIMIT ?6");
  q.bind(1, metric).bind(2, f.fingerprint).bind(3, f.suite).bind(4, f.device).bind(5, f.model);
  q.bind(6, int64_t{f.limit});
  std::vector<HistoryPoint> out;
  while (q.step()) {
    HistoryPoint p;
    p.run_id = q.i64(0);
    p.date = q.text(1);
    p.revision = q.text(2);
    p.threads = static_cast<int>(q.i64(3));
    p.value = q.real(4);
    out.push_back(p);
  }
  Stmt sq(db_, path_, "SELECT value FROM samples WHERE run_id = ? AND name = ? ORDER BY idx");
  for (auto& p : out) {
    sq.reset();
    sq.bind(1, p.run_id).bind(2, metric);
    Metric m;
    while (sq.step()) m.samples.push_back(sq.real(0));
    p.band = noise_band(m);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace wan22::bench
