// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <mutex>
#include <numeric>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/shared.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

struct Point {
    double x, y, z;
    long tag;
};

struct Big {
    char bytes[48];
};

} // namespace

TEST(Value, starts_at_initial_value_and_supports_atomic_operations) {
    Value<int> v(5);
    EXPECT_EQ(v.load(), 5);
    v.store(7);
    EXPECT_EQ(v.fetch_add(3), 7);
    EXPECT_EQ(v.fetch_sub(1), 10);
    EXPECT_EQ(v.exchange(1), 9);
    int expected = 2;
    EXPECT_FALSE(v.compare_exchange(expected, 4));
    EXPECT_EQ(expected, 1);
    EXPECT_TRUE(v.compare_exchange(expected, 4));
    EXPECT_EQ(v.load(), 4);
    EXPECT_TRUE(Value<int>::is_always_lock_free);
}

TEST(Value, floating_point_fetch_add) {
    Value<double> v(0.5);
    v.fetch_add(1.25);
    EXPECT_DOUBLE_EQ(v.load(), 1.75);
}

TEST(Value, struct_too_big_for_lock_free_goes_through_the_lock) {
    static_assert(!Value<Big>::is_always_lock_free);
    Value<Big> v(Big{"hello"});
    EXPECT_STREQ(v.load().bytes, "hello");
    Big expected{"nope"};
    EXPECT_FALSE(v.compare_exchange(expected, Big{"x"}));
    EXPECT_STREQ(expected.bytes, "hello");
    EXPECT_TRUE(v.compare_exchange(expected, Big{"world"}));
    EXPECT_STREQ(v.load().bytes, "world");
    Value<Point> p(Point{1, 2, 3, 4});
    EXPECT_EQ(p.load().tag, 4);
}

TEST(Value, named_value_is_shared_by_name_and_typed) {
    ScopedSegment segment;
    Value<long> a(*segment, "counter", 10);
    Value<long> b(*segment, "counter", 99); // exists: the initial value is not applied again
    EXPECT_EQ(b.load(), 10);
    a.fetch_add(5);
    EXPECT_EQ(Value<long>::open(*segment, "counter").load(), 15);
    EXPECT_THROW(Value<double>::open(*segment, "counter"), KindMismatch);
    EXPECT_THROW(Value<long>::create(*segment, "counter"), AlreadyExists);
    EXPECT_THROW(Value<long>::open(*segment, "missing"), NotFound);
}

TEST(Value, get_lock_is_shared_between_handles) {
    ScopedSegment segment;
    Value<int> a(*segment, "v");
    Value<int> b = Value<int>::open(*segment, "v");
    std::lock_guard guard(a.get_lock());
    EXPECT_TRUE(b.get_lock().try_acquire()) << "RLock is reentrant for its owner thread";
    b.get_lock().release();
}

TEST(Array, zero_initialised_indexable_and_iterable) {
    Array<int> a(5);
    EXPECT_EQ(a.size(), 5u);
    EXPECT_EQ(std::accumulate(a.begin(), a.end(), 0), 0);
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = static_cast<int>(i * i);
    EXPECT_EQ(a.to_vector(), (std::vector<int>{0, 1, 4, 9, 16}));
    a.store(2, 40);
    EXPECT_EQ(a.load(2), 40);
    EXPECT_EQ(a.at(4), 16);
}

TEST(Array, out_of_range_index_is_an_error) {
    Array<double> a{1.0, 2.0};
    EXPECT_THROW(a.at(2), OutOfRange);
    EXPECT_THROW(a.load(7), OutOfRange);
    EXPECT_THROW(a.store(2, 0.0), OutOfRange);
}

TEST(Array, named_array_opens_without_length_and_checks_it) {
    ScopedSegment segment;
    Array<std::uint16_t> a(*segment, "samples", 8);
    a[3] = 33;
    Array<std::uint16_t> b = Array<std::uint16_t>::open(*segment, "samples");
    EXPECT_EQ(b.size(), 8u);
    EXPECT_EQ(b[3], 33);
    EXPECT_THROW(Array<std::uint16_t>(*segment, "samples", 9), KindMismatch);
    EXPECT_THROW(Array<std::uint32_t>::open(*segment, "samples"), KindMismatch);
    EXPECT_THROW(Value<std::uint16_t>::open(*segment, "samples"), KindMismatch);
}

TEST(Array, empty_array_is_allowed) {
    Array<int> a(std::size_t{0});
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.begin(), a.end());
}

TEST(Array, corrupt_length_is_corrupt_segment) {
    ScopedSegment segment;
    Array<int> a(*segment, "a", 4);
    reinterpret_cast<std::uint64_t*>(a.data())[-8] = 1ull << 40; // the length field
    EXPECT_THROW(Array<int>::open(*segment, "a"), CorruptSegment);
}

// ---- lock= and the raw types ------------------------------------------------------------------

namespace {

bool has_object(const Segment& segment, const std::string& name) {
    const auto objects = segment.objects();
    return std::any_of(objects.begin(), objects.end(),
                       [&](const ObjectInfo& info) { return info.name == name; });
}

} // namespace

TEST(Value, raw_value_has_no_lock_and_shares_the_value) {
    ScopedSegment segment;
    RawValue<int> raw(*segment, "v", 7);
    EXPECT_FALSE(has_object(*segment, "v.lock")) << "lock=false makes no lock";
    EXPECT_EQ(raw.fetch_add(3), 7);
    Value<int> locked = Value<int>::open(*segment, "v");
    EXPECT_EQ(locked.load(), 10);
    EXPECT_TRUE(has_object(*segment, "v.lock"));
    EXPECT_EQ(RawValue<int>::open(*segment, "v").load(), 10);
    RawValue<Big> big(Big{"raw"});
    EXPECT_STREQ(big.load().bytes, "raw");
    static_assert(sizeof(RawValue<int>) == sizeof(detail::ObjectRef), "NoLock takes no room");
}

TEST(Value, get_obj_is_the_same_value_without_its_lock) {
    ScopedSegment segment;
    Value<Big> value(*segment, "v", Big{"one"});
    RawValue<Big> obj = value.get_obj();
    std::lock_guard guard(value.get_lock());
    obj.store(Big{"two"}); // the lock is held, yet the raw object does not take it
    EXPECT_STREQ(value.load().bytes, "two"); // an RLock: the holder may take it again
}

TEST(Value, guarded_by_a_given_lock_or_rlock) {
    ScopedSegment segment;
    Lock lock(*segment, "shared-lock");
    Value<Big, Lock> a(*segment, "a", Big{"a"}, lock);
    Value<Big, Lock> b(Big{"b"}, lock);
    EXPECT_FALSE(has_object(*segment, "a.lock")) << "a given lock replaces the own one";
    EXPECT_FALSE(lock.locked());
    {
        std::lock_guard guard(a.get_lock());
        EXPECT_TRUE(b.get_lock().locked()) << "both are guarded by the one Lock";
    }
    a.store(Big{"A"});
    const auto reopened = Value<Big, Lock>::open(*segment, "a", lock);
    EXPECT_STREQ(reopened.load().bytes, "A");
    EXPECT_THROW((Value<Big, Lock>::create(*segment, "a", Big{}, lock)), AlreadyExists);
    EXPECT_EQ((Array<int, Lock>::create(*segment, "arr", 2, lock).size()), 2u);
    EXPECT_THROW((Array<int, Lock>::create(*segment, "arr", 2, lock)), AlreadyExists);
    EXPECT_FALSE(has_object(*segment, "arr.lock"));
    RLock rlock(*segment, "shared-rlock");
    Value<int> c(*segment, "c", 1, rlock);
    std::lock_guard guard(rlock);
    EXPECT_TRUE(c.get_lock().locked());
    EXPECT_EQ(c.fetch_add(1), 1);
    EXPECT_EQ(c.get_obj().load(), 2);
}

TEST(Array, raw_array_and_get_obj_share_the_elements) {
    ScopedSegment segment;
    RawArray<double> raw(*segment, "a", 4);
    EXPECT_FALSE(has_object(*segment, "a.lock"));
    raw.store(1, 1.5);
    Array<double> locked = Array<double>::open(*segment, "a");
    EXPECT_EQ(locked.load(1), 1.5);
    RawArray<double> obj = locked.get_obj();
    obj[2] = 2.5;
    EXPECT_EQ(locked.to_vector(), (std::vector<double>{0, 1.5, 2.5, 0}));
    Lock lock;
    Array<int, Lock> guarded(3, lock);
    guarded.store(0, 4);
    EXPECT_EQ(guarded.get_obj().to_vector(), (std::vector<int>{4, 0, 0}));
    EXPECT_EQ(&guarded.get_lock(), &guarded.get_lock());
}

TEST(Array, char_array_value_is_nul_terminated_and_raw_is_every_byte) {
    ScopedSegment segment;
    Array<char> text(*segment, "text", 8);
    EXPECT_EQ(text.value(), "");
    EXPECT_EQ(text.raw(), std::string(8, '\0'));
    text.set_raw("abcdefgh");
    EXPECT_EQ(text.value(), "abcdefgh") << "no NUL: the whole array";
    text.set_value("xyz");
    EXPECT_EQ(text.value(), "xyz");
    EXPECT_EQ(text.raw(), std::string("xyz\0efgh", 8)) << "one NUL after, the rest kept";
    text.set_raw("12");
    EXPECT_EQ(text.value(), "12z");
    EXPECT_THROW(text.set_value("123456789"), UsageError);
    EXPECT_THROW(text.set_raw("123456789"), UsageError);
    EXPECT_EQ(text.raw(), std::string("12z\0efgh", 8)) << "a failed set changes nothing";
    RawArray<char> raw = text.get_obj();
    raw.set_value("12345678");
    EXPECT_EQ(Array<char>::open(*segment, "text").value(), "12345678");
}

TEST(Value, character_types_and_bool_are_not_the_integers_of_their_size) {
    ScopedSegment segment;
    Value<char> c(*segment, "c", 'x');
    Value<wchar_t> u(*segment, "u", L'\u00e9');
    Value<bool> flag(*segment, "flag", true);
    EXPECT_THROW(Value<std::int8_t>::open(*segment, "c"), KindMismatch);
    EXPECT_THROW(Value<std::int32_t>::open(*segment, "u"), KindMismatch);
    EXPECT_THROW(Value<std::uint8_t>::open(*segment, "flag"), KindMismatch);
    EXPECT_EQ(Value<char>::open(*segment, "c").load(), 'x');
    EXPECT_EQ(Value<wchar_t>::open(*segment, "u").load(), L'\u00e9');
    EXPECT_TRUE(Value<bool>::open(*segment, "flag").load());
    Array<std::int8_t> bytes(*segment, "bytes", 3);
    EXPECT_THROW(Array<char>::open(*segment, "bytes"), KindMismatch);
}
