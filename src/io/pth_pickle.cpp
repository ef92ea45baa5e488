#include "io/pth_pickle.h"

#include <cstring>
#include <unordered_map>

#include "core/status.h"
#include "io/tensor_source.h"

namespace wan22::io::pickle {

namespace {

constexpr int kMaxCallDepth = 16;
constexpr size_t kMaxDims = 64;

// torch.XStorage class names (what torch.save's persistent_id writes) -> element type.
bool storage_dtype(const std::string& name, DType* out) {
  static const struct {
    const char* name;
    DType dtype;
  } kTable[] = {
      {"torch.FloatStorage", DType::kF32},   {"torch.DoubleStorage", DType::kF64},
      {"torch.HalfStorage", DType::kF16},    {"torch.BFloat16Storage", DType::kBF16},
      {"torch.LongStorage", DType::kI64},    {"torch.IntStorage", DType::kI32},
      {"torch.ShortStorage", DType::kI16},   {"torch.CharStorage", DType::kI8},
      {"torch.ByteStorage", DType::kU8},     {"torch.BoolStorage", DType::kBool},
      {"torch.UntypedStorage", DType::kU8},
  };
  for (const auto& e : kTable) {
    if (name == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

// torch dtype globals (the dtype argument of _rebuild_tensor_v3).
bool torch_dtype(const std::string& name, DType* out) {
  static const struct {
    const char* name;
    DType dtype;
  } kTable[] = {
      {"torch.float32", DType::kF32},       {"torch.float", DType::kF32},
      {"torch.float64", DType::kF64},       {"torch.double", DType::kF64},
      {"torch.float16", DType::kF16},       {"torch.half", DType::kF16},
      {"torch.bfloat16", DType::kBF16},     {"torch.float8_e4m3fn", DType::kF8E4M3},
      {"torch.float8_e5m2", DType::kF8E5M2}, {"torch.int8", DType::kI8},
      {"torch.uint8", DType::kU8},          {"torch.int16", DType::kI16},
      {"torch.short", DType::kI16},         {"torch.int32", DType::kI32},
      {"torch.int", DType::kI32},           {"torch.int64", DType::kI64},
      {"torch.long", DType::kI64},          {"torch.bool", DType::kBool},
  };
  for (const auto& e : kTable) {
    if (name == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Reads opcode arguments with bounds checks.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool done() const { return p_ >= n_; }
  size_t pos() const { return p_; }
  size_t left() const { return n_ - p_; }
  bool has(size_t k) const { return left() >= k; }
  const uint8_t* take(size_t k) {
    const uint8_t* r = d_ + p_;
    p_ += k;
    return r;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t p_ = 0;
};

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "string";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kDType: return "dtype";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
    case Kind::kOpaque: return "object";
  }
  return "?";
}

void Unpickler::fail(const std::string& what) const {
  throw Error(ErrorCode::kCorruptData, where_ + ": byte " + std::to_string(pos_) + ": " + what);
}

std::vector<const StorageDesc*> Unpickler::storages() const {
  std::vector<const StorageDesc*> out;
  for (const Object& o : arena_) {
    if (o.kind == Kind::kStorage) out.push_back(&o.storage);
  }
  return out;
}

Object* Unpickler::make(Kind k) {
  arena_.emplace_back();
  arena_.back().kind = k;
  return &arena_.back();
}

Object* Unpickler::persistent_load(Object* pid) {
  if (pid->kind != Kind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::kString ||
      pid->items[0]->s != "storage") {
    fail("persistent id is not ('storage', type, key, location, numel)");
  }
  const Object* type = pid->items[1];
  const Object* key = pid->items[2];
  const Object* loc = pid->items[3];
  const Object* numel = pid->items[4];
  if (type->kind != Kind::kGlobal) fail("storage type is a " + std::string(kind_name(type->kind)) + ", not a class");
  if (key->kind != Kind::kString || loc->kind != Kind::kString || numel->kind != Kind::kInt) {
    fail("storage key/location/numel have the wrong types");
  }
  Object* st = make(Kind::kStorage);
  if (!storage_dtype(type->s, &st->storage.dtype)) {
    throw Error(ErrorCode::kUnsupported,
                where_ + ": storage type '" + printable(type->s) + "' (storage '" + printable(key->s) + "') is not supported");
  }
  if (numel->i < 0) fail("storage '" + printable(key->s) + "' has negative size " + std::to_string(numel->i));
  st->storage.key = key->s;
  st->storage.location = loc->s;
  st->storage.numel = static_cast<uint64_t>(numel->i);
  return st;
}

Object* Unpickler::rebuild_tensor(const Object* args, bool v3) {
  const size_t need = v3 ? 7 : 6;
  const char* fn = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
  if (args->items.size() < need || args->items.size() > need + 1) {
    fail(std::string(fn) + " called with " + std::to_string(args->items.size()) + " arguments");
  }
  const Object* st = args->items[0];
  const Object* off = args->items[1];
  const Object* size = args->items[2];
  const Object* stride = args->items[3];
  if (st->kind != Kind::kStorage) fail(std::string(fn) + ": first argument is a " + kind_name(st->kind) + ", not a storage");
  if (off->kind != Kind::kInt || off->i < 0) fail(std::string(fn) + ": storage offset is not a non-negative int");
  if (size->kind != Kind::kTuple || stride->kind != Kind::kTuple || size->items.size() != stride->items.size()) {
    fail(std::string(fn) + ": size and stride are not tuples of the same length");
  }
  if (size->items.size() > kMaxDims) fail(std::string(fn) + ": " + std::to_string(size->items.size()) + " dimensions");
  Object* t = make(Kind::kTensor);
  t->tensor.storage = st;
  t->tensor.offset = off->i;
  t->tensor.dtype = st->storage.dtype;
  for (size_t d = 0; d < size->items.size(); ++d) {
    const Object* a = size->items[d];
    const Object* b = stride->items[d];
    if (a->kind != Kind::kInt || b->kind != Kind::kInt || a->i < 0 || b->i < 0) {
      fail(std::string(fn) + ": size/stride entry " + std::to_string(d) + " is not a non-negative int");
    }
    t->tensor.size.push_back(a->i);
    t->tensor.stride.push_back(b->i);
  }
  if (v3) {
    const Object* dt = args->items[6];
    if (dt->kind != Kind::kDType) fail("_rebuild_tensor_v3: dtype argument is a " + std::string(kind_name(dt->kind)));
    t->tensor.dtype = dt->dtype;
  }
  return t;
}

Object* Unpickler::call(Object* callable, Object* args) {
  static thread_local int depth = 0;
  struct DepthGuard {
    DepthGuard() { ++depth; }
    ~DepthGuard() { --depth; }
  } guard;
  if (depth > kMaxCallDepth) fail("calls nested too deeply");
  if (args->kind != Kind::kTuple) fail("call arguments are a " + std::string(kind_name(args->kind)) + ", not a tuple");
  if (callable->kind == Kind::kOpaque) {
    Object* o = make(Kind::kOpaque);
    o->s = callable->s;
    return o;
  }
  if (callable->kind != Kind::kGlobal) fail("a " + std::string(kind_name(callable->kind)) + " is called");
  const std::string& name = callable->s;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    if (!args->items.empty()) {
      Object* o = make(Kind::kOpaque);
      o->s = name + "(...)";
      return o;
    }
    return make(Kind::kDict);
  }
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, false);
  if (name == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(args, true);
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (args->items.empty() || args->items[0]->kind != Kind::kTensor) fail(name + ": first argument is not a tensor");
    return args->items[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, new_type, args, state): a tensor subclass
    if (args->items.size() != 4) fail(name + " called with " + std::to_string(args->items.size()) + " arguments");
    Object* r = call(args->items[0], args->items[2]);
    if (r->kind != Kind::kTensor) fail(name + ": does not rebuild a tensor");
    return r;
  }
  if (starts_with(name, "torch._utils._rebuild") || starts_with(name, "torch._tensor._rebuild")) {
    throw Error(ErrorCode::kUnsupported,
                where_ + ": tensors rebuilt by " + printable(name) + " (quantized, sparse, nested...) are not supported");
  }
  Object* o = make(Kind::kOpaque);
  o->s = name;
  return o;
}

const Object* Unpickler::run(const uint8_t* data, size_t size, const std::string& where) {
  where_ = where;
  Reader r(data, size);
  std::vector<Object*> stack;
  std::vector<size_t> marks;
  std::unordered_map<uint64_t, Object*> memo;

  auto need = [&](size_t k, const char* op) {
    if (!r.has(k)) fail(std::string(op) + " needs " + std::to_string(k) + " bytes, " + std::to_string(r.left()) + " left: truncated?");
  };
  auto pop = [&](const char* op) -> Object* {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail(std::string(op) + " on an empty stack");
    Object* o = stack.back();
    stack.pop_back();
    return o;
  };
  auto top = [&](const char* op) -> Object* {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back())) fail(std::string(op) + " on an empty stack");
    return stack.back();
  };
  auto pop_mark = [&](const char* op) -> std::vector<Object*> {
    if (marks.empty()) fail(std::string(op) + " without a MARK");
    size_t m = marks.back();
    marks.pop_back();
    std::vector<Object*> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
    stack.resize(m);
    return items;
  };
  auto push_int = [&](int64_t v) {
    Object* o = make(Kind::kInt);
    o->i = v;
    stack.push_back(o);
  };
  auto push_string = [&](uint64_t len, const char* op) {
    need(len, op);
    Object* o = make(Kind::kString);
    o->s.assign(reinterpret_cast<const char*>(r.take(len)), len);
    stack.push_back(o);
  };
  auto read_line = [&](const char* op) -> std::string {
    size_t n = 0;
    while (n < r.left() && r.take(0)[n] != '\n') ++n;
    if (n == r.left()) fail(std::string(op) + " argument is not terminated by a newline");
    std::string s(reinterpret_cast<const char*>(r.take(n)), n);
    r.take(1);
    return s;
  };
  auto make_global = [&](const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    Object* o;
    DType dt;
    if (torch_dtype(full, &dt)) {
      o = make(Kind::kDType);
      o->dtype = dt;
    } else {
      o = make(Kind::kGlobal);
    }
    o->s = full;
    stack.push_back(o);
  };
  auto append_to = [&](Object* list, const std::vector<Object*>& items, const char* op) {
    if (list->kind == Kind::kList) {
      list->items.insert(list->items.end(), items.begin(), items.end());
    } else if (list->kind != Kind::kOpaque) {
      fail(std::string(op) + " on a " + kind_name(list->kind));
    }
  };
  auto set_items = [&](Object* dict, const std::vector<Object*>& kv, const char* op) {
    if (kv.size() % 2) fail(std::string(op) + " with an odd number of items");
    if (dict->kind == Kind::kDict) {
      for (size_t k = 0; k < kv.size(); k += 2) dict->dict.emplace_back(kv[k], kv[k + 1]);
    } else if (dict->kind != Kind::kOpaque) {
      fail(std::string(op) + " on a " + kind_name(dict->kind));
    }
  };
  auto make_tuple = [&](std::vector<Object*> items) {
    Object* o = make(Kind::kTuple);
    o->items = std::move(items);
    stack.push_back(o);
  };

  while (!r.done()) {
    pos_ = r.pos();
    const uint8_t op = *r.take(1);
    switch (op) {
      case 0x80: {  // PROTO
        need(1, "PROTO");
        uint8_t v = *r.take(1);
        if (v > 5) fail("pickle protocol " + std::to_string(v) + " is unknown");
        break;
      }
      case 0x95:  // FRAME (protocol 4): a length hint
        need(8, "FRAME");
        r.take(8);
        break;
      case '.': {  // STOP
        Object* result = pop("STOP");
        return result;
      }
      case '(':  // MARK
        marks.push_back(stack.size());
        break;
      case '0':  // POP
        pop("POP");
        break;
      case '1':  // POP_MARK
        pop_mark("POP_MARK");
        break;
      case '2':  // DUP
        stack.push_back(top("DUP"));
        break;
      case 'N':
        stack.push_back(make(Kind::kNone));
        break;
      case 0x88:  // NEWTRUE
      case 0x89: {  // NEWFALSE
        Object* o = make(Kind::kBool);
        o->i = op == 0x88;
        stack.push_back(o);
        break;
      }
      case 'J':  // BININT
        need(4, "BININT");
        push_int(static_cast<int32_t>(le(r.take(4), 4)));
        break;
      case 'K':  // BININT1
        need(1, "BININT1");
        push_int(*r.take(1));
        break;
      case 'M':  // BININT2
        need(2, "BININT2");
        push_int(static_cast<int64_t>(le(r.take(2), 2)));
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        const char* name = op == 0x8a ? "LONG1" : "LONG4";
        uint64_t n;
        if (op == 0x8a) {
          need(1, name);
          n = *r.take(1);
        } else {
          need(4, name);
          n = le(r.take(4), 4);
        }
        need(n, name);
        const uint8_t* b = r.take(n);
        // Two's complement little-endian; wider than 8 bytes only as a sign extension.
        uint64_t v = n ? le(b, static_cast<int>(n < 8 ? n : 8)) : 0;
        if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~0ull << (8 * n);
        for (uint64_t k = 8; k < n; ++k) {
          if (b[k] != ((b[7] & 0x80) ? 0xff : 0x00)) {
            throw Error(ErrorCode::kUnsupported, where_ + ": byte " + std::to_string(pos_) + ": integer wider than 64 bits");
          }
        }
        push_int(static_cast<int64_t>(v));
        break;
      }
      case 'G': {  // BINFLOAT (big-endian double)
        need(8, "BINFLOAT");
        const uint8_t* b = r.take(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
        Object* o = make(Kind::kFloat);
        std::memcpy(&o->f, &bits, 8);
        stack.push_back(o);
        break;
      }
      case 'X':  // BINUNICODE
      case 'B':  // BINBYTES
        need(4, "BINUNICODE");
        push_string(le(r.take(4), 4), "BINUNICODE");
        break;
      case 'T': {  // BINSTRING (signed length)
        need(4, "BINSTRING");
        int32_t n = static_cast<int32_t>(le(r.take(4), 4));
        if (n < 0) fail("BINSTRING with negative length");
        push_string(static_cast<uint64_t>(n), "BINSTRING");
        break;
      }
      case 0x8c:  // SHORT_BINUNICODE
      case 'U':   // SHORT_BINSTRING
      case 'C':   // SHORT_BINBYTES
        need(1, "SHORT_BINSTRING");
        push_string(*r.take(1), "SHORT_BINSTRING");
        break;
      case 0x8d:  // BINUNICODE8
      case 0x8e:  // BINBYTES8
        need(8, "BINUNICODE8");
        push_string(le(r.take(8), 8), "BINUNICODE8");
        break;
      case ')':
        make_tuple({});
        break;
      case 't':
        make_tuple(pop_mark("TUPLE"));
        break;
      case 0x85: {  // TUPLE1
        Object* a = pop("TUPLE1");
        make_tuple({a});
        break;
      }
      case 0x86: {  // TUPLE2
        Object* b = pop("TUPLE2");
        Object* a = pop("TUPLE2");
        make_tuple({a, b});
        break;
      }
      case 0x87: {  // TUPLE3
        Object* c = pop("TUPLE3");
        Object* b = pop("TUPLE3");
        Object* a = pop("TUPLE3");
        make_tuple({a, b, c});
        break;
      }
      case ']':
        stack.push_back(make(Kind::kList));
        break;
      case 'l': {  // LIST
        Object* o = make(Kind::kList);
        o->items = pop_mark("LIST");
        stack.push_back(o);
        break;
      }
      case 'a': {  // APPEND
        Object* v = pop("APPEND");
        append_to(top("APPEND"), {v}, "APPEND");
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Object*> items = pop_mark("APPENDS");
        append_to(top("APPENDS"), items, "APPENDS");
        break;
      }
      case '}':
        stack.push_back(make(Kind::kDict));
        break;
      case 'd': {  // DICT
        std::vector<Object*> kv = pop_mark("DICT");
        Object* o = make(Kind::kDict);
        set_items(o, kv, "DICT");
        stack.push_back(o);
        break;
      }
      case 's': {  // SETITEM
        Object* v = pop("SETITEM");
        Object* k = pop("SETITEM");
        set_items(top("SETITEM"), {k, v}, "SETITEM");
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Object*> kv = pop_mark("SETITEMS");
        set_items(top("SETITEMS"), kv, "SETITEMS");
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = read_line("GLOBAL");
        std::string name = read_line("GLOBAL");
        make_global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Object* name = pop("STACK_GLOBAL");
        Object* module = pop("STACK_GLOBAL");
        if (name->kind != Kind::kString || module->kind != Kind::kString) fail("STACK_GLOBAL of non-strings");
        make_global(module->s, name->s);
        break;
      }
      case 'R':     // REDUCE
      case 0x81: {  // NEWOBJ
        Object* args = pop("REDUCE");
        Object* fn = pop("REDUCE");
        stack.push_back(call(fn, args));
        break;
      }
      case 'b': {  // BUILD: state of dicts, tensors and opaque objects is not needed
        pop("BUILD");
        Object* o = top("BUILD");
        if (o->kind != Kind::kDict && o->kind != Kind::kTensor && o->kind != Kind::kOpaque) {
          fail(std::string("BUILD on a ") + kind_name(o->kind));
        }
        break;
      }
      case 'Q': {  // BINPERSID
        Object* pid = pop("BINPERSID");
        stack.push_back(persistent_load(pid));
        break;
      }
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        uint64_t idx;
        if (op == 'h') {
          need(1, "BINGET");
          idx = *r.take(1);
        } else {
          need(4, "LONG_BINGET");
          idx = le(r.take(4), 4);
        }
        auto it = memo.find(idx);
        if (it == memo.end()) fail("memo entry " + std::to_string(idx) + " is read before it is written");
        stack.push_back(it->second);
        break;
      }
      case 'q':    // BINPUT
      case 'r': {  // LONG_BINPUT
        uint64_t idx;
        if (op == 'q') {
          need(1, "BINPUT");
          idx = *r.take(1);
        } else {
          need(4, "LONG_BINPUT");
          idx = le(r.take(4), 4);
        }
        memo[idx] = top("BINPUT");
        break;
      }
      case 0x94: {  // MEMOIZE
        uint64_t idx = memo.size();
        memo[idx] = top("MEMOIZE");
        break;
      }
      default: {
        static const char* kHex = "0123456789abcdef";
        std::string code = std::string("0x") + kHex[op >> 4] + kHex[op & 15];
        fail("unknown or unsupported pickle opcode " + code);
      }
    }
  }
  pos_ = r.pos();
  fail("pickle ends without STOP: truncated?");
}

}  // namespace wan22::io::pickle
