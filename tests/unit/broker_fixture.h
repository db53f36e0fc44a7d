// The fixture of the lease tests (lease_broker_test, lease_handover_test): a
// LeaseBroker over a ChildPool, on a fake clock, launcher and sink, and
// optionally the lease table hand-overs use.
#pragma once

#include <gtest/gtest.h>

#include "common/lease_table.h"
#include "master/child_pool.h"
#include "master/lease_broker.h"
#include "tests/unit/fakes.h"

namespace valved::testing {

class BrokerTest : public ::testing::Test {
 protected:
  /// `with_table`: the pool and the broker publish to table_ (hand-overs).
  explicit BrokerTest(bool with_table)
      : broker_{config_, pool_, clock_, sink_, with_table ? &table_ : nullptr} {
    if (with_table) pool_.PublishTo(&table_);
  }
  /// Gives the pool and the broker config_, as the test set it, and starts the pool.
  void Start() {
    pool_.SetConfig(config_);
    broker_.SetConfig(config_);
    pool_.Start();
  }
  void ReadyAll() {
    for (auto& [id, path] : launcher_.launched) pool_.OnReady(id);
  }
  void ReleaseOk(uint64_t worker, uint64_t req, uint64_t child) {
    broker_.Release(worker, {req, child, ipc::Outcome::kOk},
                    [](const master::RChild&) { return true; });
    broker_.Dispatch();
  }

  Config config_;
  FakeClock clock_;
  FakeLauncher launcher_;
  LeaseTable table_ = LeaseTable::Create();
  master::ChildPool pool_{config_, launcher_, clock_, "/run/v"};
  RecordingSink sink_;
  master::LeaseBroker broker_;
};

}  // namespace valved::testing
