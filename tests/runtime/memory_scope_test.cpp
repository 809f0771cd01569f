// SPDX-License-Identifier: Apache-2.0
// Tests of MemoryScope: pmr containers built in a scope, everything returned to the manager when
// the scope ends or is released, and the chunks drawn from the manager's pool or placed memory.
#include "strata/runtime/memory/memory_scope.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory_resource>
#include <string>
#include <vector>

#include "strata/runtime/base/error.hpp"

namespace {

std::uint64_t in_use(const strata::MemoryManager& mm) {
  std::uint64_t sum = 0;
  for (const auto& n : mm.statistics()) sum += n.bytes_in_use;
  return sum;
}

// Proves containers in a scope draw from the manager and every byte goes back when the scope
// ends, without freeing the objects one by one.
TEST(MemoryScope, FreesEverythingAtOnce) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  {
    strata::MemoryScope scope(mm);
    std::pmr::vector<std::pmr::string> names(&scope);
    std::pmr::map<int, double> values(&scope);
    for (int i = 0; i < 20'000; ++i) {
      names.emplace_back(std::string(32, 'x') + std::to_string(i));
      values.emplace(i, i * 0.5);
    }
    EXPECT_EQ(values.at(1234), 617.0);
    EXPECT_EQ(names[19'999].substr(32), "19999");
    EXPECT_GT(in_use(mm), 20'000u * 32);
    EXPECT_GE(scope.bytes_allocated(), 20'000u * 32);
    // Leak the containers' own bookkeeping on purpose: the scope takes it all.
    new (&names) std::pmr::vector<std::pmr::string>(&scope);
    new (&values) std::pmr::map<int, double>(&scope);
  }
  EXPECT_EQ(in_use(mm), 0u);
}

// Proves release() hands the memory back and the scope can be used again.
TEST(MemoryScope, ReleaseAndReuse) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  strata::MemoryScope scope(mm, 1024);
  for (int round = 0; round < 3; ++round) {
    void* p = scope.allocate(100'000, 64);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_NE(scope.allocate(48), nullptr);
    EXPECT_GT(in_use(mm), 100'000u);
    scope.release();
    EXPECT_EQ(scope.bytes_allocated(), 0u);
    EXPECT_EQ(in_use(mm), 0u);
  }
}

// Proves a first chunk of 0 bytes (a broken precondition of monotonic_buffer_resource) is
// refused with strata::Error, from either constructor.
TEST(MemoryScope, RefusesAZeroFirstChunk) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  EXPECT_THROW(strata::MemoryScope(mm, 0), strata::Error);
  EXPECT_THROW(strata::MemoryScope(mm.resource(), 0), strata::Error);
}

}  // namespace
