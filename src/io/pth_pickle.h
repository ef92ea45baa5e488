// A minimal pickle interpreter for what torch.save writes into data.pkl (protocol 2, plus the few
// protocol 3-4 opcodes a newer pickler may use). Nothing is ever executed: GLOBAL only names
// things; the torch rebuild functions and OrderedDict are interpreted here, and any other global
// becomes an opaque object (kept out of the state dict). Storages come from persistent ids
// ('storage', <torch.XStorage>, key, location, numel) and are only described, never read here.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace wan22::io::pickle {

enum class Kind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,   // str and bytes
  kTuple,
  kList,
  kDict,
  kGlobal,   // a named callable / class (s = "module.name")
  kDType,    // a torch dtype global (torch.bfloat16, ...): dtype
  kStorage,  // a persistent-id storage: storage
  kTensor,   // a rebuilt tensor: tensor
  kOpaque,   // the result of calling / building an unknown global (s = its name)
};

struct Object;

struct StorageDesc {
  std::string key;       // the zip entry is <archive>/data/<key>
  std::string location;  // "cpu", "cuda:0", ...
  DType dtype = DType::kU8;
  uint64_t numel = 0;    // elements of dtype
};

struct TensorDesc {
  const Object* storage = nullptr;  // kind kStorage
  DType dtype = DType::kF32;        // element type of the view (v3 may differ from the storage)
  int64_t offset = 0;               // in elements of dtype
  Shape size, stride;
};

struct Object {
  Kind kind = Kind::kNone;
  int64_t i = 0;  // bool / int
  double f = 0;
  std::string s;  // string / global name
  std::vector<Object*> items;                          // tuple / list
  std::vector<std::pair<Object*, Object*>> dict;       // in insertion order
  DType dtype = DType::kF32;
  StorageDesc storage;
  TensorDesc tensor;
};

class Unpickler {
 public:
  // Runs the pickle and returns the object STOP left on the stack (owned by this Unpickler).
  // `where` names the file and entry in messages. Throws Error(kCorruptData) on malformed input
  // (with the byte offset), Error(kUnsupported) on valid pickles we cannot represent.
  const Object* run(const uint8_t* data, size_t size, const std::string& where);
  // Every storage the pickle declared (also after a failed run); for the fuzzer's harness.
  std::vector<const StorageDesc*> storages() const;

 private:
  Object* make(Kind k);
  Object* call(Object* callable, Object* args);
  Object* persistent_load(Object* pid);
  Object* rebuild_tensor(const Object* args, bool v3);
  [[noreturn]] void fail(const std::string& what) const;

  std::deque<Object> arena_;  // stable addresses; cycles through the memo are harmless
  std::string where_;
  size_t pos_ = 0;  // offset of the opcode being run, for messages
};

const char* kind_name(Kind k);

}  // namespace wan22::io::pickle
