// SPDX-License-Identifier: Apache-2.0
// Pool against std::transform, under rapidcheck: for random inputs, chunk sizes and pool sizes,
// map and starmap equal the sequential transform, imap yields it in order, imap_unordered
// yields a permutation of it, and a map with failing inputs raises the first failure in input
// order. The pools (1 to 4 workers) are made once and shared by every case.
#include <algorithm>
#include <array>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <ranges>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pool.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace shmbus;

namespace {

// x * x of any int fits in long long; 3 * x * x would not.
long long polynomial(int x) {
    const long long v = x;
    return v * v - v + 7;
}

std::string reversed_twice_joined(const std::string& s) {
    std::string r(s.rbegin(), s.rend());
    return r + "|" + r;
}

long long weighted(int a, long long b) {
    return 2LL * a - b;
}

int fails_on_multiples_of_13(int x) {
    if (x % 13 == 0)
        throw std::domain_error("multiple of 13: " + std::to_string(x));
    return x + 1;
}

Pool& pool_of(std::size_t workers) {
    static std::array<std::unique_ptr<Pool>, 4> pools;
    std::unique_ptr<Pool>& pool = pools.at(workers - 1);
    if (!pool)
        pool = std::make_unique<Pool>(static_cast<unsigned>(workers));
    return *pool;
}

Pool& any_pool() {
    return pool_of(*rc::gen::inRange<std::size_t>(1, 5));
}

std::size_t any_chunksize() {
    return *rc::gen::inRange<std::size_t>(0, 40); // 0: the pool's default
}

template <class T, class F>
auto transformed(const std::vector<T>& inputs, F fn) {
    std::vector<decltype(fn(inputs.front()))> out(inputs.size());
    std::transform(inputs.begin(), inputs.end(), out.begin(), fn);
    return out;
}

} // namespace

RC_GTEST_PROP(PoolProperties, MapEqualsTransform, (const std::vector<int>& inputs)) {
    const std::size_t chunksize = any_chunksize();
    const auto got = any_pool().map(polynomial, inputs, chunksize);
    RC_ASSERT(got == transformed(inputs, polynomial));
}

RC_GTEST_PROP(PoolProperties, MapOfStringsEqualsTransform,
              (const std::vector<std::string>& inputs)) {
    const std::size_t chunksize = any_chunksize();
    const auto got = any_pool().map(reversed_twice_joined, inputs, chunksize);
    RC_ASSERT(got == transformed(inputs, reversed_twice_joined));
}

RC_GTEST_PROP(PoolProperties, StarmapEqualsTransform,
              (const std::vector<std::pair<int, long long>>& inputs)) {
    const std::size_t chunksize = any_chunksize();
    const auto got = any_pool().starmap(weighted, inputs, chunksize);
    RC_ASSERT(got == transformed(inputs, [](const std::pair<int, long long>& p) {
                  return weighted(p.first, p.second);
              }));
}

RC_GTEST_PROP(PoolProperties, ImapYieldsTheTransformInOrder, (const std::vector<int>& inputs)) {
    const std::size_t chunksize = *rc::gen::inRange<std::size_t>(1, 20);
    std::vector<long long> got;
    for (long long value : any_pool().imap(polynomial, inputs, chunksize))
        got.push_back(value);
    RC_ASSERT(got == transformed(inputs, polynomial));
}

RC_GTEST_PROP(PoolProperties, ImapUnorderedYieldsAPermutation, (const std::vector<int>& inputs)) {
    const std::size_t chunksize = *rc::gen::inRange<std::size_t>(1, 20);
    auto results = any_pool().imap_unordered(polynomial, inputs, chunksize);
    std::vector<long long> got;
    while (const std::optional<long long> value = results.next())
        got.push_back(*value);
    std::vector<long long> want = transformed(inputs, polynomial);
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    RC_ASSERT(got == want);
}

RC_GTEST_PROP(PoolProperties, MapRaisesTheFirstFailureInInputOrder,
              (const std::vector<int>& inputs)) {
    const std::size_t chunksize = any_chunksize();
    const auto first_bad =
        std::find_if(inputs.begin(), inputs.end(), [](int x) { return x % 13 == 0; });
    Pool& pool = any_pool();
    if (first_bad == inputs.end()) {
        RC_ASSERT(pool.map(fails_on_multiples_of_13, inputs, chunksize) ==
                  transformed(inputs, fails_on_multiples_of_13));
        return;
    }
    try {
        pool.map(fails_on_multiples_of_13, inputs, chunksize);
        RC_FAIL("map returned despite a failing input");
    } catch (const std::domain_error& e) {
        RC_ASSERT(std::string(e.what()) == "multiple of 13: " + std::to_string(*first_bad));
    }
}

// A lazy imap over an input that throws at a random position (or never) against the model:
// the results of the items before it (in order, or as a permutation), then its error, then
// the end.
RC_GTEST_PROP(PoolProperties, ImapRaisesAnInputErrorAfterTheResultsBeforeIt,
              (const std::vector<int>& inputs, bool ordered)) {
    const std::size_t chunksize = *rc::gen::inRange<std::size_t>(1, 10);
    const std::size_t fail_at = *rc::gen::inRange<std::size_t>(0, inputs.size() + 2);
    auto input = std::views::iota(std::size_t{0}, inputs.size()) |
                 std::views::transform([&inputs, fail_at](std::size_t i) {
                     if (i == fail_at)
                         throw std::range_error("input " + std::to_string(i));
                     return inputs[i];
                 });
    Pool& pool = any_pool();
    auto results = ordered ? pool.imap(polynomial, input, chunksize)
                           : pool.imap_unordered(polynomial, input, chunksize);
    const std::size_t good = std::min(fail_at, inputs.size());
    std::vector<long long> got;
    for (std::size_t i = 0; i < good; ++i)
        got.push_back(*results.next());
    std::vector<long long> want = transformed(
        std::vector<int>(inputs.begin(), inputs.begin() + static_cast<long>(good)), polynomial);
    if (!ordered) {
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
    }
    RC_ASSERT(got == want);
    if (fail_at < inputs.size()) {
        try {
            results.next();
            RC_FAIL("no error at the failing input");
        } catch (const std::range_error& e) {
            RC_ASSERT(std::string(e.what()) == "input " + std::to_string(fail_at));
        }
    }
    RC_ASSERT(!results.next());
}
