// SPDX-License-Identifier: Apache-2.0
// Creating objects of random, often absurd, sizes: each create either makes a usable object or
// raises OutOfSpace / UsageError and leaves the segment as it was (directory, heap fill level,
// and the contents of every object already there).
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <ostream>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

enum class Kind {
    array_int,
    array_char,
    array_double,
    pipe_duplex,
    pipe_one_way,
    pipe_max_message,
    queue_capacity,
    queue_maxsize,
    queue_max_message,
    joinable_queue_capacity,
    dict_capacity,
    dict_entries,
    list_capacity,
    list_entries,
    barrier_parties,
    semaphore_value,
};

struct Step {
    Kind kind;
    std::uint64_t size;
};

// How rapidcheck prints a counterexample.
[[maybe_unused]] void showValue(const Step& step, std::ostream& os) {
    os << "{kind " << static_cast<int>(step.kind) << ", size " << step.size << "}";
}

// Sizes where arithmetic goes wrong: small ones, the neighbours of every power of two (which
// wrap when multiplied or rounded up), the top of the range, and anything.
rc::Gen<std::uint64_t> awkward_size() {
    return rc::gen::oneOf(
        rc::gen::inRange<std::uint64_t>(0, 4097),
        rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 64), rc::gen::inRange(-3, 4)),
                     [](const std::pair<int, int>& p) {
                         return (std::uint64_t{1} << p.first) +
                                static_cast<std::uint64_t>(p.second);
                     }),
        rc::gen::map(rc::gen::inRange<std::uint64_t>(0, 4096),
                     [](std::uint64_t below) { return ~std::uint64_t{0} - below; }),
        rc::gen::arbitrary<std::uint64_t>());
}

rc::Gen<Step> step() {
    return rc::gen::construct<Step>(
        rc::gen::element(Kind::array_int, Kind::array_char, Kind::array_double, Kind::pipe_duplex,
                         Kind::pipe_one_way, Kind::pipe_max_message, Kind::queue_capacity,
                         Kind::queue_maxsize, Kind::queue_max_message,
                         Kind::joinable_queue_capacity, Kind::dict_capacity, Kind::dict_entries,
                         Kind::list_capacity, Kind::list_entries, Kind::barrier_parties,
                         Kind::semaphore_value),
        awkward_size());
}

template <class T>
void use_array(const Segment& segment, const std::string& name, std::uint64_t length) {
    Array<T> array(segment, name, length);
    RC_ASSERT(array.size() == length);
    if (length == 0)
        return;
    RC_ASSERT(array[0] == T{} && array[length - 1] == T{});
    array.store(length - 1, T{7});
    RC_ASSERT(array.load(length - 1) == T{7});
}

void use_pipe(const Segment& segment, bool duplex, const PipeOptions& options) {
    auto [receiver, sender] = Pipe(segment, duplex, options);
    sender.send(std::uint8_t{5});
    RC_ASSERT(receiver.recv<std::uint8_t>() == 5);
}

template <class Q>
void use_queue(const Segment& segment, const std::string& name, const QueueOptions& options) {
    Q queue(segment, name, options);
    queue.put(std::uint8_t{9});
    RC_ASSERT(queue.get() == 9);
}

void use_dict(const Segment& segment, const std::string& name, const DictOptions& options) {
    Dict<int> dict(segment, name, options);
    dict.set("k", 3);
    RC_ASSERT(dict.get("k") == 3);
}

void use_list(const Segment& segment, const std::string& name, const ListOptions& options) {
    List<int> list(segment, name, options);
    list.append(4);
    RC_ASSERT(list.at(0) == 4);
}

// Creates the object `step` describes and checks that it works; throws what the create throws.
void create_and_use(const Segment& segment, const std::string& name, const Step& step) {
    const std::uint64_t n = step.size;
    const auto count = static_cast<unsigned>(n); // the sync objects take 32-bit counts
    switch (step.kind) {
    case Kind::array_int:
        return use_array<int>(segment, name, n);
    case Kind::array_char:
        return use_array<char>(segment, name, n);
    case Kind::array_double:
        return use_array<double>(segment, name, n);
    case Kind::pipe_duplex:
        return use_pipe(segment, true, {.capacity_bytes = n});
    case Kind::pipe_one_way:
        return use_pipe(segment, false, {.capacity_bytes = n});
    case Kind::pipe_max_message:
        return use_pipe(segment, true, {.capacity_bytes = 4096, .max_message_size = n});
    case Kind::queue_capacity:
        return use_queue<Queue<std::uint8_t>>(segment, name,
                                              {.max_message_size = 64, .capacity_bytes = n});
    case Kind::queue_maxsize:
        return use_queue<Queue<std::uint8_t>>(segment, name,
                                              {.maxsize = n, .max_message_size = 64});
    case Kind::queue_max_message:
        return use_queue<Queue<std::uint8_t>>(segment, name, {.max_message_size = n});
    case Kind::joinable_queue_capacity:
        return use_queue<JoinableQueue<std::uint8_t>>(
            segment, name, {.max_message_size = 64, .capacity_bytes = n});
    case Kind::dict_capacity:
        return use_dict(segment, name, {.capacity_bytes = n});
    case Kind::dict_entries:
        return use_dict(segment, name, {.capacity_bytes = 4096, .max_entries = n});
    case Kind::list_capacity:
        return use_list(segment, name, {.capacity_bytes = n});
    case Kind::list_entries:
        return use_list(segment, name, {.capacity_bytes = 4096, .max_entries = n});
    case Kind::barrier_parties:
        RC_ASSERT(Barrier(segment, name, count).parties() == count);
        return;
    case Kind::semaphore_value:
        RC_ASSERT(Semaphore(segment, name, count).get_value() == count);
        return;
    }
}

} // namespace

RC_GTEST_PROP(SizeProperties, a_create_either_works_or_fails_leaving_the_segment_unchanged, ()) {
    const auto count = *rc::gen::inRange<std::size_t>(1, 9);
    const auto steps = *rc::gen::container<std::vector<Step>>(count, step());
    ScopedSegment segment(std::size_t{1} << 20);
    Array<std::uint64_t> sentinel(*segment, "sentinel", 64);
    for (std::size_t i = 0; i < sentinel.size(); ++i)
        sentinel[i] = 0x5a5a'0000'0000'0000ULL + i;
    Queue<std::uint8_t> inbox(*segment, "inbox", QueueOptions{.max_message_size = 64});
    inbox.put(std::uint8_t{42});

    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto before = segment->objects();
        const std::uint64_t heap_used = detail::mapping_of(*segment).header().heap_used;
        try {
            create_and_use(*segment, "object" + std::to_string(i), steps[i]);
            RC_ASSERT(segment->objects().size() > before.size());
        } catch (const OutOfSpace&) {
            RC_ASSERT(segment->objects() == before);
            RC_ASSERT(detail::mapping_of(*segment).header().heap_used == heap_used);
        } catch (const UsageError&) {
            RC_ASSERT(segment->objects() == before);
            RC_ASSERT(detail::mapping_of(*segment).header().heap_used == heap_used);
        }
    }
    for (std::size_t i = 0; i < sentinel.size(); ++i)
        RC_ASSERT(sentinel[i] == 0x5a5a'0000'0000'0000ULL + i);
    RC_ASSERT(inbox.get_nowait() == 42);
}
