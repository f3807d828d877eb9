#pragma once
// Checks of untrusted FAISS data: a vectors.faiss that passes its checksum may still be crafted
// (fuzz/vector_index.cpp fuzzes the reader with the checksum off). Both checks throw CorruptFile
// (vector_file.hpp) with the reason; neither keeps state.

#include <cstddef>

#include "index/vector_file.hpp"
#include "index/vector_index_types.hpp"
#include "ragline/types.hpp"

namespace ragline::index {

// Before faiss::read_index: FAISS's reader sizes each array from the file and allocates it before
// reading it, so a damaged size makes it allocate up to 2^40 bytes (and FAISS 1.7 leaks it when
// the read then fails). For the layouts ragline writes outside IVF, IndexFlatIP and IndexHNSWFlat,
// every array size is checked against the bytes `blob` has left; other layouts pass (only the
// checksum guards IVF). Reads through `blob`: give it a reader of its own.
void check_faiss_blob(BoundedReader& blob);

// After faiss::read_index: what it returned is what the header says (`state`, `dimension`,
// `positions` vectors, inner product, a state `config.type` may be in) and is sound in itself
// (flat codes sized ntotal·d, every HNSW neighbour and the entry point inside the graph, level
// offsets consistent, every IVF vector in exactly one list with a valid direct map, PQ sizes
// coherent), so a search never meets a structure it does not expect. Linear in the index size.
void check_loaded_index(const faiss::Index& loaded, VectorIndexState state, std::size_t dimension,
                        std::size_t positions, const VectorIndexConfig& config);

}  // namespace ragline::index
