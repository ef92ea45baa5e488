// Key names of the T5 encoder. The layers use the official names of wan/modules/t5.py
// (token_embedding, blocks.N.norm1 / attn.{q,k,v,o} / pos_embedding.embedding / norm2 /
// ffn.{gate.0,fc1,fc2}, norm); these tables map them onto transformers' UMT5EncoderModel /
// T5EncoderModel names (the Diffusers text_encoder/ directory, ComfyUI's umt5 files).
#pragma once
#include <string>
#include <vector>

#include "io/weight_store.h"
#include "models/key_alias.h"

namespace wan22::models::text {

// Two transformers tables: the tied embedding stored as "shared.weight" or as
// "encoder.embed_tokens.weight"; the block names are the same.
const std::vector<AliasTable>& t5_alias_tables();

// Installs the key map on ws (official names, a known prefix, or a transformers layout) and checks
// that the block weights resolve too. Returns the layout name. Throws Error(kNotFound) naming the
// file when the store is not a T5 encoder.
std::string install_t5_key_map(io::WeightStore& ws);

}  // namespace wan22::models::text
