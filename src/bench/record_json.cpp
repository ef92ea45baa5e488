#include "bench/record_json.h"

#include <cmath>
#include <limits>

#include "bench/stats.h"
#include "core/status.h"

namespace wan22::bench {

using json = nlohmann::ordered_json;

namespace {
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double read_num(const json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}
}  // namespace

json run_to_json(const RunRecord& run) {
  json j;
  const Machine& m = run.machine;
  j["machine"] = {{"gpu", m.gpu},
                  {"driver", m.driver},
                  {"cuda", m.cuda},
                  {"cpu", m.cpu},
                  {"threads", run.threads},
                  {"logical_cores", m.logical_cores},
                  {"physical_cores", m.physical_cores},
                  {"ram_gib", static_cast<double>(m.ram_bytes) / (1ull << 30)},
                  {"ram_bytes", m.ram_bytes},
                  {"os", m.os},
                  {"fingerprint", m.fingerprint()}};
  j["revision"] = run.revision;
  j["date"] = run.date;
  j["suite"] = run.suite;
  j["device"] = run.device;
  j["model"] = run.model;
  j["threads"] = run.threads;
  if (run.id > 0) j["run_id"] = run.id;
  json metrics = json::object();
  json details = json::array();
  for (const auto& met : run.metrics) {
    metrics[met.name] = num(met.value);
    const Spread s = spread_of(met.samples);
    json samples = json::array();
    for (double x : met.samples) samples.push_back(num(x));
    details.push_back({{"name", met.name},
                       {"value", num(met.value)},
                       {"unit", met.unit},
                       {"better", better_name(met.better)},
                       {"samples", samples},
                       {"note", met.note},
                       {"noise_band", noise_band(met)},
                       {"rel_mad", s.rel_mad}});
  }
  j["metrics"] = metrics;
  j["details"] = details;
  json stages = json::array();
  for (const auto& s : run.stages)
    stages.push_back({{"name", s.name}, {"seconds", num(s.seconds)}});
  j["stages"] = stages;
  j["stages_of"] = run.stages_of;
  return j;
}

RunRecord run_from_json(const json& j) {
  try {
    RunRecord run;
    const json& m = j.at("machine");
    run.machine.gpu = m.value("gpu", "");
    run.machine.driver = m.value("driver", "");
    run.machine.cuda = m.value("cuda", "");
    run.machine.cpu = m.value("cpu", "");
    run.machine.logical_cores = m.value("logical_cores", 0);
    run.machine.physical_cores = m.value("physical_cores", 0);
    run.machine.ram_bytes = m.value("ram_bytes", uint64_t{0});
    run.machine.os = m.value("os", "");
    run.threads = j.value("threads", m.value("threads", 0));
    run.revision = j.at("revision").get<std::string>();
    run.date = j.at("date").get<std::string>();
    run.suite = j.at("suite").get<std::string>();
    run.device = j.value("device", "");
    run.model = j.value("model", "");
    run.id = j.value("run_id", int64_t{0});
    for (const auto& d : j.at("details")) {
      Metric met;
      met.name = d.at("name").get<std::string>();
      met.value = read_num(d.at("value"));
      met.unit = d.value("unit", "");
      if (!parse_better(d.value("better", "lower"), &met.better))
        throw Error(ErrorCode::kCorruptData,
                    "benchmark JSON: metric " + met.name + " has a bad 'better'");
      for (const auto& x : d.value("samples", json::array())) met.samples.push_back(read_num(x));
      met.note = d.value("note", "");
      run.metrics.push_back(std::move(met));
    }
    run.stages_of = j.value("stages_of", "");
    for (const auto& s : j.value("stages", json::array()))
      run.stages.push_back({s.at("name").get<std::string>(), read_num(s.at("seconds"))});
    return run;
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kCorruptData, std::string("benchmark JSON: ") + e.what());
  }
}

}  // namespace wan22::bench
