// The elementwise arithmetic of one solver update (or of the CFG combine) as a tiny program over
// same-shape float32 tensors: every instruction is a linear combination of two registers
//   r[dst] = (a * r[x] + b * r[y]) / div        (or a * r[x] / div without a second term)
// rounded after each multiply, add and divide (no fused multiply-add), so that an executor on any
// device reproduces the reference's separately rounded numpy/torch operations bit for bit.
// The host computes the coefficients (the solver's float32 scalar math); an executor
// (sched/step_executor.h) runs the whole program in one pass over the elements.
//
//   LinProgram p(2);                                        // inputs: 0 = model output v, 1 = sample x
//   auto x0 = p.lin(1.0f, p.input(1), -sigma, p.input(0));  // x - sigma * v
//   p.output(x0);
//   std::vector<Tensor> outs = executor.run(p, {v, x});
//
// Multiplying by 1, dividing by 1 and subtracting as adding the negated product are exact in IEEE
// arithmetic, which is what lets one instruction form express every solver formula exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wan22::sched {

struct LinInstr {
  int dst = 0;
  int x = 0;
  int y = -1;  // -1: no second term
  float a = 1.0f, b = 0.0f, div = 1.0f;
};

class LinProgram {
 public:
  using Reg = int;
  static constexpr int kMaxRegs = 24;
  static constexpr int kMaxInputs = 8;
  static constexpr int kMaxOutputs = 4;
  static constexpr int kMaxInstrs = 24;

  // Registers 0 .. num_inputs-1 hold the inputs.
  explicit LinProgram(int num_inputs = 0);

  Reg input(int i) const;
  // One more input (before any instruction): its register.
  Reg add_input();
  // (a * x + b * y) / div, each operation rounded to float32.
  Reg lin(float a, Reg x, float b, Reg y, float div = 1.0f);
  // a * x / div.
  Reg scale(float a, Reg x, float div = 1.0f);
  // x - y.
  Reg sub(Reg x, Reg y) { return lin(1.0f, x, -1.0f, y); }
  // Declares the next output (outputs are numbered in call order); any register, inputs included
  // (an output of an input register is a copy).
  void output(Reg r);

  int num_inputs() const { return num_inputs_; }
  int num_regs() const { return num_regs_; }
  const std::vector<LinInstr>& instrs() const { return instrs_; }
  const std::vector<Reg>& outputs() const { return outputs_; }
  std::string str() const;  // for error messages and debugging

 private:
  Reg new_reg();
  void check_reg(Reg r, const char* what) const;

  int num_inputs_;
  int num_regs_;
  std::vector<LinInstr> instrs_;
  std::vector<Reg> outputs_;
};

// Evaluates the program for elements [begin, end) on the host (no FMA; see no_fp_contract.h).
// inputs[i] / outputs[k]: float32 arrays indexed by the element number.
void run_lin_program_host(const LinProgram& p, const float* const* inputs, float* const* outputs, int64_t begin,
                          int64_t end);

}  // namespace wan22::sched
