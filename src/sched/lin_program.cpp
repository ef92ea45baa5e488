#include "sched/lin_program.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/status.h"

// Every multiply, add and divide below is rounded on its own, as in the reference.
#include "sched/no_fp_contract.h"

namespace wan22::sched {

LinProgram::LinProgram(int num_inputs) : num_inputs_(num_inputs), num_regs_(num_inputs) {
  WAN22_CHECK(num_inputs >= 0 && num_inputs <= kMaxInputs,
              "LinProgram: " + std::to_string(num_inputs) + " inputs (at most " + std::to_string(kMaxInputs) + ")");
}

LinProgram::Reg LinProgram::input(int i) const {
  WAN22_CHECK(i >= 0 && i < num_inputs_, "LinProgram: input " + std::to_string(i) + " of " +
                                             std::to_string(num_inputs_));
  return i;
}

LinProgram::Reg LinProgram::add_input() {
  WAN22_CHECK(instrs_.empty(), "LinProgram: inputs must be added before the first instruction");
  WAN22_CHECK(num_inputs_ < kMaxInputs, "LinProgram: more than " + std::to_string(kMaxInputs) + " inputs");
  ++num_regs_;
  return num_inputs_++;
}

void LinProgram::check_reg(Reg r, const char* what) const {
  WAN22_CHECK(r >= 0 && r < num_regs_, std::string("LinProgram: ") + what + " register " + std::to_string(r) +
                                           " is not defined (" + std::to_string(num_regs_) + " registers)");
}

LinProgram::Reg LinProgram::new_reg() {
  WAN22_CHECK(num_regs_ < kMaxRegs, "LinProgram: more than " + std::to_string(kMaxRegs) + " registers");
  WAN22_CHECK(static_cast<int>(instrs_.size()) < kMaxInstrs,
              "LinProgram: more than " + std::to_string(kMaxInstrs) + " instructions");
  return num_regs_++;
}

LinProgram::Reg LinProgram::lin(float a, Reg x, float b, Reg y, float div) {
  check_reg(x, "operand");
  check_reg(y, "operand");
  LinInstr in;
  in.x = x;
  in.y = y;
  in.a = a;
  in.b = b;
  in.div = div;
  in.dst = new_reg();
  instrs_.push_back(in);
  return in.dst;
}

LinProgram::Reg LinProgram::scale(float a, Reg x, float div) {
  check_reg(x, "operand");
  LinInstr in;
  in.x = x;
  in.a = a;
  in.div = div;
  in.dst = new_reg();
  instrs_.push_back(in);
  return in.dst;
}

void LinProgram::output(Reg r) {
  check_reg(r, "output");
  WAN22_CHECK(static_cast<int>(outputs_.size()) < kMaxOutputs,
              "LinProgram: more than " + std::to_string(kMaxOutputs) + " outputs");
  outputs_.push_back(r);
}

std::string LinProgram::str() const {
  std::ostringstream os;
  os << "LinProgram(" << num_inputs_ << " inputs)";
  for (const LinInstr& in : instrs_) {
    os << "; r" << in.dst << " = (" << in.a << "*r" << in.x;
    if (in.y >= 0) os << " + " << in.b << "*r" << in.y;
    os << ")/" << in.div;
  }
  os << "; out";
  for (Reg r : outputs_) os << " r" << r;
  return os.str();
}

void run_lin_program_host(const LinProgram& p, const float* const* inputs, float* const* outputs, int64_t begin,
                          int64_t end) {
  constexpr int64_t kChunk = 1024;  // the registers of one chunk stay in L1/L2
  thread_local std::vector<float> scratch;
  const int nregs = p.num_regs(), nin = p.num_inputs();
  scratch.resize(static_cast<size_t>(nregs) * kChunk);
  const float* reg[LinProgram::kMaxRegs];
  float* tmp[LinProgram::kMaxRegs];
  for (int r = nin; r < nregs; ++r) {
    tmp[r] = scratch.data() + static_cast<size_t>(r) * kChunk;
    reg[r] = tmp[r];
  }
  for (int64_t c = begin; c < end; c += kChunk) {
    const int64_t n = std::min(kChunk, end - c);
    for (int i = 0; i < nin; ++i) reg[i] = inputs[i] + c;
    for (const LinInstr& in : p.instrs()) {
      float* d = tmp[in.dst];
      const float* x = reg[in.x];
      const float a = in.a, div = in.div;
      // Dividing by 1 is exact: the loops without the division give the same bits, faster.
      const bool divide = div != 1.0f;
      if (in.y < 0) {
        for (int64_t k = 0; k < n; ++k) d[k] = a * x[k];
      } else {
        const float* y = reg[in.y];
        const float b = in.b;
        for (int64_t k = 0; k < n; ++k) {
          const float ax = a * x[k];
          const float by = b * y[k];
          d[k] = ax + by;
        }
      }
      if (divide) {
        for (int64_t k = 0; k < n; ++k) d[k] = d[k] / div;
      }
    }
    for (size_t o = 0; o < p.outputs().size(); ++o) {
      std::memcpy(outputs[o] + c, reg[p.outputs()[o]], static_cast<size_t>(n) * sizeof(float));
    }
  }
}

}  // namespace wan22::sched
