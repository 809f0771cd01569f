// SPDX-License-Identifier: Apache-2.0
// The parallel algorithms: reduce, for_each_chunk, transform and for_each_rows over spans and
// Arrays, run on an Executor. Data is cut by a ChunkPlan (NUMA partitions, then chunks); each chunk
// runs in the arena of the node its partition is planned on; partial results merge along the plan's
// fixed merge tree — inside a partition by that node's threads, then across partitions in data
// (= node) order — so a result has the same bits for the same chunking, whatever the thread count.
//
//   strata::Executor ex(rt);
//   auto s = strata::reduce(ex, values, strata::kernels::Stats{});       // a span, vector, ...
//   auto t = strata::reduce<double>(ex, part, strata::kernels::Stats{}); // a dataset partition:
//                                        // io's overload, verifying each chunk in the pass
//   auto h = strata::reduce(ex, u, strata::kernels::Histogram(0.0, 1.0, 64));   // Array: its plan
//   strata::transform(ex, x, y, [](auto in, auto out) {
//     strata::kernels::affine(in, 2.0, 1.0, out);
//   });
//   strata::for_each_rows(ex, v, 1, rows - 1, [&](std::size_t first, std::size_t last) {
//     strata::kernels::stencil5(u.span(), v.span(), nx, first, last, 0.2);   // a stencil's rows
//   });
//
// Merging across ranks is the runtime's (rt.allreduce), not this file's.
#pragma once

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_invoke.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <map>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/runtime/base/error.hpp"
#include "strata/runtime/files/mapped_read_guard.hpp"
#include "strata/runtime/memory/array.hpp"
#include "strata/runtime/memory/placement_plan.hpp"
#include "strata/scheduler/chunk_plan.hpp"
#include "strata/scheduler/executor.hpp"

namespace strata {

// A partial result that takes values a span at a time and combines with another partial result
// of the same kind (kernels::Stats, kernels::Histogram). Copies of the `init` given to reduce()
// start every partial result, so init must be empty: an identity of merge, carrying only set-up
// (a histogram's bins).
template <class A, class T>
concept Accumulator = std::copy_constructible<A> &&
    requires(A& a, const A& other, std::span<const T> values) {
  a.add(values);
  a.merge(other);
};

namespace detail {

template <std::ranges::contiguous_range R>
using range_element = std::remove_reference_t<std::ranges::range_reference_t<R>>;

// A contiguous range as a span, keeping its constness.
template <std::ranges::contiguous_range R>
std::span<range_element<R>> as_span(R&& range) {
  return {std::ranges::data(range), static_cast<std::size_t>(std::ranges::size(range))};
}

// The merge-tree subtree [lo, hi) of `part`: one leaf per chunk, halves in parallel. The tree's
// shape depends on the chunk indexes alone, never on which thread stole what.
template <class T, class A, class Fetch>
A reduce_subtree(Executor& ex, const ChunkPlan& plan, const ChunkPart& part, std::size_t lo,
                 std::size_t hi, const A& init, const Fetch& fetch) {
  if (hi - lo == 1) {
    const ElementRange r = plan.chunk(part, lo - part.first_chunk);
    A leaf(init);
    const std::span<const T> values(fetch(r.first, r.count));
    // Values may be a mapped file: a truncation while the kernel reads them is an Error here.
    guard_mapped_read(std::as_bytes(values), [&] { leaf.add(values); });
    ex.count_chunk(part.node, r.count * sizeof(T));
    return leaf;
  }
  const std::size_t mid = merge_split(lo, hi);
  std::optional<A> left, right;
  oneapi::tbb::parallel_invoke(
      [&] { left.emplace(reduce_subtree<T>(ex, plan, part, lo, mid, init, fetch)); },
      [&] { right.emplace(reduce_subtree<T>(ex, plan, part, mid, hi, init, fetch)); });
  left->merge(*right);
  return std::move(*left);
}

// Reduces every chunk of `plan`; fetch(first, count) gives the elements [first, first + count)
// as a span of const T and is called from the arenas' threads.
template <class T, class A, class Fetch>
A reduce_chunks(Executor& ex, const ChunkPlan& plan, const A& init, const Fetch& fetch) {
  const auto& parts = plan.parts();
  if (plan.chunk_count() == 0) return init;
  std::vector<std::vector<MergeSpan>> spans(parts.size());
  std::vector<std::vector<std::optional<A>>> partial(parts.size());
  std::vector<unsigned> nodes;
  nodes.reserve(parts.size());
  for (std::size_t p = 0; p < parts.size(); ++p) {
    spans[p] = plan.subtrees(parts[p]);
    partial[p].resize(spans[p].size());
    nodes.push_back(parts[p].node);
  }
  ex.run_on_nodes(nodes, [&](std::size_t p) {
    oneapi::tbb::parallel_for(std::size_t{0}, spans[p].size(), [&](std::size_t s) {
      partial[p][s].emplace(
          reduce_subtree<T>(ex, plan, parts[p], spans[p][s].lo, spans[p][s].hi, init, fetch));
    });
  });
  // The top of the tree, above the partitions: a handful of merges, in data order.
  std::map<std::size_t, std::pair<std::size_t, A*>> done;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    for (std::size_t s = 0; s < spans[p].size(); ++s) {
      done.emplace(spans[p][s].lo, std::pair{spans[p][s].hi, &*partial[p][s]});
    }
  }
  auto assemble = [&](auto& self, std::size_t lo, std::size_t hi) -> A {
    if (auto it = done.find(lo); it != done.end() && it->second.first == hi) {
      return std::move(*it->second.second);
    }
    const std::size_t mid = merge_split(lo, hi);
    A left = self(self, lo, mid);
    left.merge(self(self, mid, hi));
    return left;
  };
  return assemble(assemble, 0, plan.chunk_count());
}

// Calls f(range) for every chunk of `plan`, in its node's arena.
template <class F>
void for_each_chunk_range(Executor& ex, const ChunkPlan& plan, std::size_t element_bytes,
                          const F& f) {
  const auto& parts = plan.parts();
  std::vector<unsigned> nodes;
  nodes.reserve(parts.size());
  for (const auto& part : parts) nodes.push_back(part.node);
  ex.run_on_nodes(nodes, [&](std::size_t p) {
    const ChunkPart& part = parts[p];
    oneapi::tbb::parallel_for(std::size_t{0}, part.chunks, [&](std::size_t k) {
      const ElementRange r = plan.chunk(part, k);
      f(r);
      ex.count_chunk(part.node, r.count * element_bytes);
    });
  });
}

// A plan's partitions for `elements` elements of an array laid out by `plan`: its rows must
// cover them exactly, in whole elements.
inline ChunkPlan follow_plan(const PlacementPlan& plan, std::size_t elements,
                             std::size_t element_bytes, std::size_t chunk_elements) {
  if (plan.row_bytes() % element_bytes != 0 || plan.total_bytes() != elements * element_bytes) {
    throw Error(ErrorCategory::invalid_argument, "the placement plan does not cover the data",
                {{"plan_bytes", std::to_string(plan.total_bytes())},
                 {"row_bytes", std::to_string(plan.row_bytes())},
                 {"data_bytes", std::to_string(elements * element_bytes)}});
  }
  return ChunkPlan::follow(plan, plan.row_bytes() / element_bytes, chunk_elements);
}

template <class T>
ChunkPlan array_plan(const Executor& ex, const Array<T>& array, std::size_t element_bytes) {
  return follow_plan(array.plan(), array.size(), sizeof(T), ex.chunk_elements(element_bytes));
}

template <class F, class T>
void call_chunk(const F& f, std::span<T> chunk, std::size_t first) {
  if constexpr (std::invocable<const F&, std::span<T>, std::size_t>) {
    f(chunk, first);
  } else {
    f(chunk);
  }
}

template <class T, class U, class F>
void transform_chunk(const F& f, std::span<const T> in, std::span<U> out) {
  // `in` may be a mapped file: a truncation while f reads it is an Error at this chunk.
  guard_mapped_read(std::as_bytes(in), [&] {
    if constexpr (std::invocable<const F&, std::span<const T>, std::span<U>>) {
      f(in, out);
    } else {
      for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<U>(f(in[i]));
    }
  });
}

inline void check_same_size(std::size_t in, std::size_t out) {
  if (in != out) {
    throw Error(ErrorCategory::invalid_argument, "transform input and output differ in size",
                {{"input", std::to_string(in)}, {"output", std::to_string(out)}});
  }
}

// Rows [first_row, last_row) of `plan`, cut where a block ends and then into pieces of at most
// `rows_per_piece` rows counted from the start of each block's share: f(node, first, last) per
// piece, in the arena of the block's node. Error(invalid_argument) unless
// first_row <= last_row <= rows.
template <class F>
void for_each_row_piece(Executor& ex, const PlacementPlan& plan, std::size_t first_row,
                        std::size_t last_row, std::size_t rows_per_piece, const F& f) {
  if (first_row > last_row || last_row > plan.rows()) {
    throw Error(ErrorCategory::invalid_argument, "the row range is not inside the array",
                {{"first_row", std::to_string(first_row)},
                 {"last_row", std::to_string(last_row)},
                 {"rows", std::to_string(plan.rows())}});
  }
  std::vector<unsigned> nodes;
  std::vector<std::pair<std::size_t, std::size_t>> shares;  // [first, last) per block
  for (const PlanBlock& block : plan.blocks()) {
    const std::size_t lo = std::max(block.first_row, first_row);
    const std::size_t hi = std::min(block.first_row + block.rows, last_row);
    if (lo >= hi) continue;
    nodes.push_back(block.node);
    shares.emplace_back(lo, hi);
  }
  if (nodes.empty()) return;
  ex.run_on_nodes(nodes, [&](std::size_t k) {
    // Plain variables, not a structured binding: clang 14 cannot capture one in the lambda below.
    const std::size_t share_first = shares[k].first;
    const std::size_t share_last = shares[k].second;
    const std::size_t pieces = (share_last - share_first + rows_per_piece - 1) / rows_per_piece;
    oneapi::tbb::parallel_for(std::size_t{0}, pieces, [&](std::size_t i) {
      const std::size_t lo = share_first + i * rows_per_piece;
      f(nodes[k], lo, std::min(lo + rows_per_piece, share_last));
    });
  });
}

}  // namespace detail

// Reduces `data` — any contiguous range (span, vector, a Partition's as<T>()) — split evenly
// over the nodes in whole chunks (ChunkPlan::even). Returns `init` for empty data. Exceptions from
// the accumulator are rethrown after every chunk in flight has finished.
template <std::ranges::contiguous_range R, class A>
requires Accumulator<A, std::remove_cv_t<detail::range_element<R>>> A reduce(Executor& ex, R&& data,
                                                                             A init) {
  using T = std::remove_cv_t<detail::range_element<R>>;
  std::span<const T> values = detail::as_span(data);
  const ChunkPlan plan =
      ChunkPlan::even(ex.topology(), values.size(), ex.chunk_elements(sizeof(T)));
  return detail::reduce_chunks<T>(ex, plan, init, [values](std::size_t first, std::size_t n) {
    return values.subspan(first, n);
  });
}

// The same with the partitions of `plan`, whose rows must cover `data` exactly
// (Error(invalid_argument) otherwise): for data placed by that plan outside an Array.
template <std::ranges::contiguous_range R, class A>
requires Accumulator<A, std::remove_cv_t<detail::range_element<R>>> A
reduce(Executor& ex, R&& data, const PlacementPlan& plan, A init) {
  using T = std::remove_cv_t<detail::range_element<R>>;
  std::span<const T> values = detail::as_span(data);
  const ChunkPlan chunks =
      detail::follow_plan(plan, values.size(), sizeof(T), ex.chunk_elements(sizeof(T)));
  return detail::reduce_chunks<T>(ex, chunks, init, [values](std::size_t first, std::size_t n) {
    return values.subspan(first, n);
  });
}

// Reduces an Array along its own plan: each node's threads read the block placed on it.
template <class T, Accumulator<T> A>
A reduce(Executor& ex, const Array<T>& array, A init) {
  std::span<const T> values = array.span();
  return detail::reduce_chunks<T>(
      ex, detail::array_plan(ex, array, sizeof(T)), init,
      [values](std::size_t first, std::size_t n) { return values.subspan(first, n); });
}

// Calls f(chunk) — or f(chunk, index of its first element) — for every chunk of `data`, in the
// arena of its node, concurrently. f must be safe to call from many threads at once.
template <std::ranges::contiguous_range R, class F>
void for_each_chunk(Executor& ex, R&& data, const F& f) {
  using T = detail::range_element<R>;
  std::span<T> values = detail::as_span(data);
  const ChunkPlan plan =
      ChunkPlan::even(ex.topology(), values.size(), ex.chunk_elements(sizeof(T)));
  detail::for_each_chunk_range(ex, plan, sizeof(T), [&](ElementRange r) {
    detail::call_chunk(f, values.subspan(r.first, r.count), r.first);
  });
}

template <class T, class F>
void for_each_chunk(Executor& ex, const Array<T>& array, const F& f) {
  std::span<T> values = array.span();
  detail::for_each_chunk_range(
      ex, detail::array_plan(ex, array, sizeof(T)), sizeof(T),
      [&](ElementRange r) { detail::call_chunk(f, values.subspan(r.first, r.count), r.first); });
}

// out = f(in), chunk by chunk: f(std::span<const T> in, std::span<U> out) for a SIMD kernel, or
// f(const T&) -> U per element. Chunks hold the same elements of both; a chunk's size is set by
// the wider of T and U. Error(invalid_argument) when the sizes differ.
template <std::ranges::contiguous_range In, std::ranges::contiguous_range Out, class F>
void transform(Executor& ex, In&& in, Out&& out, const F& f) {
  using T = std::remove_cv_t<detail::range_element<In>>;
  using U = detail::range_element<Out>;
  std::span<const T> source = detail::as_span(in);
  std::span<U> target = detail::as_span(out);
  detail::check_same_size(source.size(), target.size());
  const std::size_t wider = std::max(sizeof(T), sizeof(U));
  const ChunkPlan plan = ChunkPlan::even(ex.topology(), source.size(), ex.chunk_elements(wider));
  detail::for_each_chunk_range(ex, plan, wider, [&](ElementRange r) {
    detail::transform_chunk<T, U>(f, source.subspan(r.first, r.count),
                                  target.subspan(r.first, r.count));
  });
}

// Arrays: chunks follow the output's plan, so each node writes the block placed on it.
template <class T, class U, class F>
void transform(Executor& ex, const Array<T>& in, const Array<U>& out, const F& f) {
  detail::check_same_size(in.size(), out.size());
  std::span<const T> source = in.span();
  std::span<U> target = out.span();
  const std::size_t wider = std::max(sizeof(T), sizeof(U));
  detail::for_each_chunk_range(ex, detail::array_plan(ex, out, wider), wider, [&](ElementRange r) {
    detail::transform_chunk<T, U>(f, source.subspan(r.first, r.count),
                                  target.subspan(r.first, r.count));
  });
}

// Calls f(first, last) for rows [first, last) of `array`'s first dimension, covering
// [first_row, last_row) once, each row in the arena of the node whose plan block holds it,
// concurrently: the form for kernels that need whole rows and their neighbours (a stencil reads
// one array by rows and writes another with the same plan). A call's rows never cross a block
// boundary and number at most max(1, ex.chunk_bytes() / row bytes). Does nothing when
// first_row == last_row; Error(invalid_argument) unless first_row <= last_row <= rows. An
// exception from f reaches the caller after the work in flight has finished. f must be safe to
// call from many threads at once.
template <class T, class F>
requires std::invocable<const F&, std::size_t, std::size_t>
void for_each_rows(Executor& ex, const Array<T>& array, std::size_t first_row, std::size_t last_row,
                   const F& f) {
  const PlacementPlan& plan = array.plan();
  const std::size_t row_bytes = plan.row_bytes();
  detail::for_each_row_piece(ex, plan, first_row, last_row, ex.chunk_elements(row_bytes),
                             [&](unsigned node, std::size_t first, std::size_t last) {
                               f(first, last);
                               ex.count_chunk(node, (last - first) * row_bytes);
                             });
}

}  // namespace strata
