// SPDX-License-Identifier: Apache-2.0
// Proves HandleArena serves oneTBB worker threads: tasks in a tbb::task_arena allocate, read,
// write and free objects of one shared arena (their epoch records made on first use) while a
// plain thread compacts it, and every object keeps the value its handle says.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <thread>
#include <vector>

#include "strata/runtime/memory/handle_arena.hpp"

namespace {

struct Cell {
  std::uint64_t key;  // the handle it was made for, packed
  std::uint64_t hits;
};

std::uint64_t pack(strata::Handle h) { return (std::uint64_t{h.index} << 32) | h.generation; }

// Proves tasks on oneTBB workers allocating, reading, updating through write guards and freeing
// cells, with compactions moving them from another thread, never see a cell under a handle it
// was not made for, and lose no update. Fails if a worker's read or write missed the epoch
// protection or the write pin.
TEST(HandleArenaTbb, WorkersShareOneArenaWhileItIsCompacted) {
  strata::Topology topo = strata::Topology::load();
  strata::MemoryManager mm(topo);
  strata::HandleArena arena(mm, {.fast_bytes = 64 << 10, .slow_bytes = 64 << 10});
  strata::TypedHandleArena<Cell> cells(arena);
  std::atomic<bool> stop{false};
  std::atomic<int> compactions{0};
  std::thread compactor([&] {
    while (!stop.load()) {
      arena.compact();
      compactions.fetch_add(1);
      std::this_thread::yield();
    }
  });
  cells.destroy(cells.make(Cell{0, 0}));
  while (compactions.load() < 2) std::this_thread::yield();  // compacting before tasks start
  std::atomic<int> bad{0};
  std::vector<strata::TypedHandle<Cell>> kept(2'000);
  tbb::task_arena workers(2);
  workers.execute([&] {
    tbb::parallel_for(0, static_cast<int>(kept.size()), [&](int i) {
      auto h = cells.make(Cell{0, 0});
      cells.write(h)->key = pack(h.raw);
      auto scratch = cells.make(Cell{0, 0});  // garbage for the compactions
      for (int k = 0; k < 3; ++k) {
        auto w = cells.write(h);
        ++w->hits;
      }
      cells.destroy(scratch);
      auto guard = arena.read();
      const Cell* c = cells.get(guard, h);
      if (c == nullptr || c->key != pack(h.raw) || c->hits != 3) bad.fetch_add(1);
      kept[static_cast<std::size_t>(i)] = h;
    });
  });
  stop = true;
  compactor.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(arena.statistics().relocations, 0u);
  auto guard = arena.read();
  for (auto h : kept) {
    const Cell* c = cells.get(guard, h);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->key, pack(h.raw));
    EXPECT_EQ(c->hits, 3u);
  }
}

}  // namespace
