#include "master/child_state.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace valved::master {
namespace {

constexpr ChildState kAll[] = {ChildState::kSpawning, ChildState::kReady,    ChildState::kBusy,
                               ChildState::kDraining, ChildState::kStopping, ChildState::kDead};

TEST(ChildState, LegalTransitionsAreExactlyTheDesignTable) {
  using S = ChildState;
  std::set<std::pair<S, S>> legal = {
      {S::kSpawning, S::kReady}, {S::kSpawning, S::kStopping}, {S::kReady, S::kBusy},
      {S::kReady, S::kStopping}, {S::kBusy, S::kReady},        {S::kBusy, S::kDraining},
      {S::kBusy, S::kStopping},  {S::kDraining, S::kStopping}, {S::kSpawning, S::kDead},
      {S::kReady, S::kDead},     {S::kBusy, S::kDead},         {S::kDraining, S::kDead},
      {S::kStopping, S::kDead}};
  for (S from : kAll) {
    for (S to : kAll) {
      EXPECT_EQ(IsLegalTransition(from, to), legal.count({from, to}) == 1)
          << ToString(from) << " -> " << ToString(to);
    }
  }
}

TEST(ChildState, EveryStateHasADistinctName) {
  std::set<std::string> names;
  for (ChildState s : kAll) names.insert(ToString(s));
  EXPECT_EQ(names.size(), std::size(kAll));
  EXPECT_EQ(names.count("?"), 0u);
}

TEST(ChildState, OnlySpawningReadyAndBusyAreLive) {
  EXPECT_TRUE(IsLive(ChildState::kSpawning));
  EXPECT_TRUE(IsLive(ChildState::kReady));
  EXPECT_TRUE(IsLive(ChildState::kBusy));
  EXPECT_FALSE(IsLive(ChildState::kDraining));
  EXPECT_FALSE(IsLive(ChildState::kStopping));
  EXPECT_FALSE(IsLive(ChildState::kDead));
}

}  // namespace
}  // namespace valved::master
