// SPDX-License-Identifier: Apache-2.0
// The rings on their own: MpmcRing (Queue's transport) and SpscRing (Pipe's), in memory of a
// scoped segment. Threads here; processes in tests/multiprocess.
#include "os/membarrier.hpp"
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <numeric>
#include <set>
#include <shmbus/detail/object.hpp>
#include <shmbus/errors.hpp>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace shmbus::detail;
using shmbus::test::ScopedSegment;

namespace {

std::vector<std::byte> message_of(std::size_t size, unsigned seed) {
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::byte>((seed * 131 + i * 7) & 0xff);
    return bytes;
}

bool holds(const ByteBuffer& buffer, const std::vector<std::byte>& expected) {
    return buffer.size() == expected.size() &&
           std::equal(expected.begin(), expected.end(), buffer.data());
}

struct MpmcFixture {
    explicit MpmcFixture(std::uint64_t slots, bool biased = heavy_barrier_ready())
        : memory(attach_object(
              *segment, "",
              ObjectSpec{ObjectKind::queue, MpmcRing::bytes_for(slots), kCacheLine, 0},
              OpenMode::create, [=](void* at) { MpmcRing::init(at, slots, biased); })),
          ring(&memory.state<char>(), MpmcRing::bytes_for(slots)) {}

    MpmcRingHeader& header() { return memory.state<MpmcRingHeader>(); }
    RingLease& lease_of_this_thread() {
        auto* leases = reinterpret_cast<RingLease*>(&memory.state<char>() + header().leases_offset);
        for (std::uint32_t i = 0; i < kRingLeases; ++i)
            if (leases[i].owner.load() == this_thread_owner())
                return leases[i];
        throw std::runtime_error("no lease");
    }

    ScopedSegment segment{std::size_t{16} << 20};
    ObjectRef memory;
    MpmcRing ring;
};

} // namespace

TEST(MpmcRing, slots_for_counts_64_byte_slots) {
    EXPECT_EQ(MpmcRing::slots_for(0), 1u);
    EXPECT_EQ(MpmcRing::slots_for(64), 1u);
    EXPECT_EQ(MpmcRing::slots_for(65), 2u);
    EXPECT_EQ(MpmcRing::slots_for(64 * 1024), 1024u);
    EXPECT_EQ(MpmcRing::max_frame_for(16), 1024u);
}

TEST(MpmcRing, frames_of_every_size_come_back_in_order_across_many_wraps) {
    MpmcFixture f(128); // the sizes below take 98 slots: each round wraps
    ByteBuffer out;
    const std::vector<std::size_t> sizes = {0, 1, 63, 64, 65, 127, 128, 500, 1000, 4096};
    unsigned seed = 0;
    for (int round = 0; round < 200; ++round) {
        std::vector<std::vector<std::byte>> sent;
        for (std::size_t size : sizes) {
            sent.push_back(message_of(size, seed++));
            ASSERT_EQ(f.ring.try_put(sent.back()), RingStatus::ok) << size;
        }
        for (const auto& expected : sent) {
            ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
            ASSERT_TRUE(holds(out, expected));
        }
    }
    EXPECT_EQ(f.ring.try_get(out), RingStatus::empty);
    EXPECT_EQ(f.ring.size_guess(), 0u);
}

TEST(MpmcRing, full_is_exact_and_one_get_makes_room) {
    MpmcFixture f(16);
    const auto one_slot = message_of(64, 1);
    for (int i = 0; i < 16; ++i)
        ASSERT_EQ(f.ring.try_put(one_slot), RingStatus::ok);
    EXPECT_EQ(f.ring.try_put(one_slot), RingStatus::full);
    EXPECT_EQ(f.ring.slots_used_guess(), 16u);
    ByteBuffer out;
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_EQ(f.ring.try_put(message_of(65, 2)), RingStatus::full); // needs two slots
    EXPECT_EQ(f.ring.try_put(one_slot), RingStatus::ok);
}

TEST(MpmcRing, a_frame_as_large_as_the_ring_fits_when_empty_and_larger_is_too_large) {
    MpmcFixture f(16);
    const auto whole = message_of(MpmcRing::max_frame_for(16), 3);
    ASSERT_EQ(f.ring.try_put(whole), RingStatus::ok);
    EXPECT_EQ(f.ring.try_put(message_of(1, 4)), RingStatus::full);
    EXPECT_THROW(f.ring.try_put(message_of(MpmcRing::max_frame_for(16) + 1, 5)), MessageTooLarge);
    ByteBuffer out;
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, whole));
    EXPECT_EQ(f.ring.try_put(message_of(10, 6)), RingStatus::ok);
}

namespace {

RingControl& control_of(MpmcFixture& f, std::uint64_t pos) {
    MpmcRingHeader& header = f.header();
    auto* controls =
        reinterpret_cast<RingControl*>(reinterpret_cast<char*>(&header) + header.control_offset);
    return controls[pos & (header.slot_count - 1)];
}

} // namespace

// Two slots sharing a control line had the producer and the consumer write that line while the
// producer ran ahead: each control has its line (see "One control per line" in
// ring/mpmc_ring_layout.hpp).
TEST(MpmcRing, every_slot_control_has_a_cache_line_of_its_own_before_the_data) {
    MpmcFixture f(64);
    const MpmcRingHeader& header = f.header();
    const auto line_of = [](const void* at) { return reinterpret_cast<std::uintptr_t>(at) / 64; };
    std::set<std::uintptr_t> lines;
    for (std::uint64_t pos = 0; pos < header.slot_count; ++pos) {
        const RingControl& control = control_of(f, pos);
        EXPECT_EQ(line_of(&control.seq), line_of(&control.meta)) << pos;
        lines.insert(line_of(&control));
    }
    EXPECT_EQ(lines.size(), header.slot_count);
    EXPECT_EQ(header.data_offset - header.control_offset, header.slot_count * 64);
    EXPECT_EQ(MpmcRing::bytes_for(header.slot_count),
              header.data_offset + header.slot_count * kSlotBytes);
}

// A frame's slots after its first are never read or written: a 40-slot frame is published,
// released and reclaimed through its first slot's control alone.
TEST(MpmcRing, a_long_frame_is_released_and_reclaimed_by_its_first_slot_alone) {
    MpmcFixture f(64);
    for (std::uint64_t i = 1; i < 40; ++i)
        control_of(f, i).meta.store(0xdead'0000 + i); // a mark any write by the protocol erases
    const auto long_frame = message_of(40 * kSlotBytes, 1);
    for (int lap = 0; lap < 3; ++lap) { // each lap reclaims the previous one's frame
        ASSERT_EQ(f.ring.try_put(long_frame), RingStatus::ok);
        ByteBuffer out;
        ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
        ASSERT_TRUE(holds(out, long_frame));
        ASSERT_EQ(f.ring.try_put(message_of(24 * kSlotBytes, 2)), RingStatus::ok); // to the end
        ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    }
    EXPECT_EQ(control_of(f, 0).seq.load(), 2 * 64 + 64u); // lap 2's frame, released
    for (std::uint64_t i = 1; i < 40; ++i) {
        EXPECT_EQ(control_of(f, i).seq.load(), i) << i; // as init left it
        EXPECT_EQ(control_of(f, i).meta.load(), 0xdead'0000 + i) << i;
    }
    EXPECT_EQ(f.header().reclaim.load(), 3 * 64u); // lap 2 was walked whole, in two frames
}

// Consumers release out of order; producers reclaim in order: a frame still held stops the walk,
// though frames behind it are free, and nothing is overwritten before its reader is done.
TEST(MpmcRing, a_held_frame_stops_the_walk_though_frames_behind_it_are_free) {
    MpmcFixture f(16);
    const auto first = message_of(4 * kSlotBytes, 1);
    ASSERT_EQ(f.ring.try_put(first), RingStatus::ok);
    for (int i = 0; i < 12; ++i)
        ASSERT_EQ(f.ring.try_put(message_of(kSlotBytes, 2)), RingStatus::ok);
    RingClaim held;
    ASSERT_EQ(f.ring.try_borrow(held), RingStatus::ok); // the 4-slot frame, read in place
    std::thread other([&] {
        ByteBuffer out;
        for (int i = 0; i < 12; ++i)
            ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    });
    other.join();
    EXPECT_EQ(f.ring.try_put(message_of(kSlotBytes, 3)), RingStatus::full);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), held.bytes.begin()));
    f.ring.release_borrow(held);
    for (int i = 0; i < 16; ++i)
        ASSERT_EQ(f.ring.try_put(message_of(kSlotBytes, 4)), RingStatus::ok) << i;
    EXPECT_EQ(f.ring.try_put(message_of(kSlotBytes, 5)), RingStatus::full);
}

// What the walk reads comes from shared memory: a forged first slot or reclaim index is
// CorruptSegment, never a write over frames not yet read.
TEST(MpmcRing, a_forged_control_or_reclaim_index_is_a_corrupt_segment) {
    MpmcFixture f(16);
    ByteBuffer out;
    for (int i = 0; i < 16; ++i) { // one lap: the next put walks from reclaim == 16
        ASSERT_EQ(f.ring.try_put(message_of(10, 1)), RingStatus::ok);
        ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    }
    control_of(f, 0).seq.store(16 + 5); // ahead of the walk
    EXPECT_THROW((void)f.ring.try_put(message_of(10, 2)), CorruptSegment);
    control_of(f, 0).seq.store(16);
    control_of(f, 0).meta.store(kPaddingFlag); // released, with no length to step over
    EXPECT_THROW((void)f.ring.try_put(message_of(10, 2)), CorruptSegment);
    control_of(f, 0).meta.store(frame_meta(10, this_thread_owner()));
    f.header().reclaim.store(f.header().tail.load() + 16 + 1); // more than a lap of room
    EXPECT_THROW((void)f.ring.try_put(message_of(10, 2)), CorruptSegment);
    f.header().reclaim.store(16);
    EXPECT_EQ(f.ring.try_put(message_of(10, 2)), RingStatus::ok);
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, message_of(10, 2)));
}

TEST(MpmcRing, close_refuses_puts_and_drains_gets) {
    MpmcFixture f(16);
    ASSERT_EQ(f.ring.try_put(message_of(10, 1)), RingStatus::ok);
    f.ring.close();
    EXPECT_TRUE(f.ring.closed());
    EXPECT_EQ(f.ring.try_put(message_of(10, 2)), RingStatus::closed);
    ByteBuffer out;
    EXPECT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, message_of(10, 1)));
    EXPECT_EQ(f.ring.try_get(out), RingStatus::closed);
}

TEST(MpmcRing, threads_deliver_every_frame_once_in_producer_order) {
    MpmcFixture f(256);
    constexpr int kProducers = 3;
    constexpr int kConsumers = 3;
    constexpr std::uint32_t kPerProducer = 20000;
    std::atomic<int> producers_left{kProducers};
    std::vector<std::vector<std::uint64_t>> seen(kConsumers);
    std::vector<std::thread> threads;
    for (int p = 0; p < kProducers; ++p)
        threads.emplace_back([&, p] {
            for (std::uint32_t i = 0; i < kPerProducer; ++i) {
                std::vector<std::byte> m = message_of(8 + i % 200, i);
                const std::uint64_t tag = (std::uint64_t(p) << 32) | i;
                std::memcpy(m.data(), &tag, 8);
                while (f.ring.try_put(m) != RingStatus::ok)
                    std::this_thread::yield();
            }
            producers_left.fetch_sub(1);
        });
    for (int c = 0; c < kConsumers; ++c)
        threads.emplace_back([&, c] {
            ByteBuffer out;
            for (;;) {
                const RingStatus status = f.ring.try_get(out);
                if (status == RingStatus::ok) {
                    std::uint64_t tag;
                    std::memcpy(&tag, out.data(), 8);
                    const auto i = static_cast<std::uint32_t>(tag);
                    ASSERT_TRUE(holds(out, [&] {
                        auto m = message_of(8 + i % 200, i);
                        std::memcpy(m.data(), &tag, 8);
                        return m;
                    }()));
                    seen[c].push_back(tag);
                } else if (producers_left.load() == 0 && f.ring.slots_used_guess() == 0) {
                    return;
                } else {
                    std::this_thread::yield();
                }
            }
        });
    for (auto& t : threads)
        t.join();
    std::vector<std::uint64_t> all;
    for (const auto& s : seen) {
        std::map<std::uint32_t, std::uint32_t> last; // per producer: increasing
        for (std::uint64_t tag : s) {
            const auto p = static_cast<std::uint32_t>(tag >> 32);
            const auto i = static_cast<std::uint32_t>(tag);
            if (last.count(p)) {
                EXPECT_GT(i, last[p]);
            }
            last[p] = i;
        }
        all.insert(all.end(), s.begin(), s.end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), std::size_t{kProducers} * kPerProducer);
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()); // no duplicates
}

// A producer that died between its claim and its publish: consumers stop at the claim until
// recover_dead turns it into padding.
TEST(MpmcRing, recover_dead_pads_a_dead_producers_claim) {
    MpmcFixture f(64);
    ASSERT_EQ(f.ring.try_put(message_of(5, 1)), RingStatus::ok);
    shmbus::test::Child child([&] {
        ByteBuffer scratch;
        (void)f.ring.try_put(message_of(1, 0)); // registers this thread's lease
        ASSERT_EQ(f.ring.try_get(scratch), RingStatus::ok);
        ASSERT_EQ(f.ring.try_get(scratch), RingStatus::ok);
        RingLease& lease = f.lease_of_this_thread();
        const std::uint64_t tail = f.header().tail.load();
        lease.put_slots.store(3);
        lease.put_pos.store(tail);
        f.header().tail.store(tail + 3); // claimed three slots, then "died"
    });
    ASSERT_EQ(child.wait(), 0);
    ASSERT_EQ(f.ring.try_put(message_of(7, 2)), RingStatus::ok);
    ByteBuffer out;
    EXPECT_EQ(f.ring.try_get(out), RingStatus::empty); // stuck behind the dead claim
    const RecoveryReport report = f.ring.recover_dead();
    EXPECT_EQ(report.claims_padded, 1u);
    EXPECT_EQ(report.messages_lost, 0u);
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, message_of(7, 2)));
    EXPECT_EQ(f.ring.recover_dead().claims_padded, 0u); // idempotent
}

// A consumer that died between its claim and its release: producers stop a lap later until
// recover_dead releases the slots; the message it held is lost.
TEST(MpmcRing, recover_dead_releases_a_dead_consumers_claim) {
    MpmcFixture f(16);
    ASSERT_EQ(f.ring.try_put(message_of(100, 1)), RingStatus::ok); // two slots
    shmbus::test::Child child([&] {
        ByteBuffer scratch;
        (void)f.ring.try_get(scratch); // takes the message, registers a lease
        ASSERT_EQ(f.ring.try_put(message_of(100, 1)), RingStatus::ok);
        RingLease& lease = f.lease_of_this_thread();
        const std::uint64_t head = f.header().head.load();
        lease.get_pos.store(head);
        f.header().head.store(head + 2); // claimed the frame, then "died"
    });
    ASSERT_EQ(child.wait(), 0);
    for (int i = 0; i < 14; ++i)
        ASSERT_EQ(f.ring.try_put(message_of(64, 3)), RingStatus::ok);
    EXPECT_EQ(f.ring.try_put(message_of(64, 4)), RingStatus::full);
    ByteBuffer out;
    for (int i = 0; i < 14; ++i)
        ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_EQ(f.ring.try_put(message_of(128, 4)), RingStatus::full); // the dead claim's slots
    const RecoveryReport report = f.ring.recover_dead();
    EXPECT_EQ(report.messages_lost, 1u);
    EXPECT_EQ(f.ring.try_put(message_of(128, 4)), RingStatus::ok);
}

// A tagged get whose thread dies before its sink returned: recovery keeps the claim (the
// message is not lost), adopt_taken hands the message to the successor and frees the slots.
TEST(MpmcRing, a_dead_tagged_getters_message_is_adopted_not_lost) {
    MpmcFixture f(16);
    ASSERT_EQ(f.ring.try_put(message_of(100, 1)), RingStatus::ok);
    ASSERT_EQ(f.ring.try_put(message_of(30, 2)), RingStatus::ok);
    shmbus::test::Child child([&] {
        const FrameSink die{nullptr, [](void*, const FrameView&) { ::_exit(0); }};
        (void)f.ring.try_get(die, 42); // killed inside the copy
        ::_exit(1);
    });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_EQ(f.ring.recover_dead().messages_lost, 0u); // kept for adopt_taken
    ByteBuffer adopted;
    EXPECT_FALSE(f.ring.adopt_taken(41, sink_into(adopted)));
    ASSERT_TRUE(f.ring.adopt_taken(42, sink_into(adopted)));
    EXPECT_TRUE(holds(adopted, message_of(100, 1)));
    EXPECT_FALSE(f.ring.adopt_taken(42, sink_into(adopted))); // once
    ByteBuffer next;
    ASSERT_EQ(f.ring.try_get(next), RingStatus::ok);
    EXPECT_TRUE(holds(next, message_of(30, 2)));
    for (int i = 0; i < 16; ++i) // the adopted claim's slots came free
        ASSERT_EQ(f.ring.try_put(message_of(64, 3)), RingStatus::ok) << i;
}

// A tagged getter killed before it claimed anything took nothing: nothing to adopt.
TEST(MpmcRing, a_tagged_getter_that_claimed_nothing_leaves_nothing_to_adopt) {
    MpmcFixture f(16);
    shmbus::test::Child child([&] {
        ByteBuffer out;
        (void)f.ring.try_get(sink_into(out), 7); // empty: records the tag, claims nothing
    });
    ASSERT_EQ(child.wait(), 0);
    ASSERT_EQ(f.ring.try_put(message_of(10, 1)), RingStatus::ok);
    ByteBuffer out;
    EXPECT_FALSE(f.ring.adopt_taken(7, sink_into(out)));
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
}

namespace {

// Makes this thread's claim of one slot at tail for `message`, writes it, and, with `commit`,
// records the commit of tagged put `tag`: the states a tagged put is killed in.
void claim_and_write_tagged(MpmcFixture& f, std::uint64_t tag, std::span<const std::byte> message,
                            bool commit) {
    (void)f.ring.try_put(message_of(1, 0)); // registers this thread's lease
    ByteBuffer scratch;
    (void)f.ring.try_get(scratch);
    RingLease& lease = f.lease_of_this_thread();
    MpmcRingHeader& header = f.header();
    const std::uint64_t pos = header.tail.load();
    const std::uint64_t slot = pos & (header.slot_count - 1);
    char* base = reinterpret_cast<char*>(&header);
    auto* control = reinterpret_cast<RingControl*>(base + header.control_offset);
    lease.tag.store(kTaggedPut | tag);
    lease.put_slots.store(1);
    lease.put_pos.store(pos);
    header.tail.store(pos + 1);
    control[slot].meta.store(
        frame_meta(static_cast<std::uint32_t>(message.size()), this_thread_owner()));
    std::memcpy(base + header.data_offset + slot * kSlotBytes, message.data(), message.size());
    if (commit)
        lease.committed.store(kTaggedPut | tag);
}

} // namespace

// A tagged put whose thread dies after writing its frame whole but before publishing it: the
// put is committed, and recovery publishes the frame rather than padding it.
TEST(MpmcRing, a_dead_tagged_putters_committed_frame_is_published) {
    MpmcFixture f(16);
    const std::vector<std::byte> message = message_of(40, 5);
    shmbus::test::Child child([&] { claim_and_write_tagged(f, 9, message, true); });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_FALSE(f.ring.put_committed(8));
    EXPECT_TRUE(f.ring.put_committed(9));
    ByteBuffer out;
    EXPECT_EQ(f.ring.try_get(out), RingStatus::empty); // not published yet
    const RecoveryReport report = f.ring.recover_dead();
    EXPECT_EQ(report.claims_published, 1u);
    EXPECT_EQ(report.claims_padded, 0u);
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, message));
    EXPECT_TRUE(f.ring.put_committed(9)); // still known after it was taken
}

// Killed before the commit, the tagged put did not happen: recovery pads its claim.
TEST(MpmcRing, a_dead_tagged_putters_uncommitted_claim_is_padded) {
    MpmcFixture f(16);
    shmbus::test::Child child([&] { claim_and_write_tagged(f, 9, message_of(40, 5), false); });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_FALSE(f.ring.put_committed(9));
    EXPECT_EQ(f.ring.recover_dead().claims_padded, 1u);
    ASSERT_EQ(f.ring.try_put(message_of(8, 6)), RingStatus::ok);
    ByteBuffer out;
    ASSERT_EQ(f.ring.try_get(out), RingStatus::ok);
    EXPECT_TRUE(holds(out, message_of(8, 6)));
}

// A finished tagged put is committed; an untagged claim after it erases the record, so that
// recovery never takes an untagged frame for a committed one.
TEST(MpmcRing, a_finished_tagged_put_is_committed_until_an_untagged_claim) {
    MpmcFixture f(16);
    shmbus::test::Child child([&] {
        ASSERT_EQ(f.ring.try_put(message_of(8, 1), {}, 3), RingStatus::ok);
        ASSERT_EQ(f.ring.try_put(message_of(8, 2), {}, 4), RingStatus::ok);
    });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_TRUE(f.ring.put_committed(4));
    EXPECT_FALSE(f.ring.put_committed(3)); // only the last tagged put is known
    shmbus::test::Child untagged([&] {
        ASSERT_EQ(f.ring.try_put(message_of(8, 1), {}, 5), RingStatus::ok);
        ASSERT_EQ(f.ring.try_put(message_of(8, 2)), RingStatus::ok);
    });
    ASSERT_EQ(untagged.wait(), 0);
    EXPECT_FALSE(f.ring.put_committed(5));
}

// Threads that each put and get once, all alive until every one has: more of them than there
// are owned leases, so the last ones borrow shared leases, which go back after each use.
TEST(MpmcRing, more_live_threads_than_owned_leases_all_put_and_get) {
    MpmcFixture f(1024);
    constexpr int kThreads = kOwnedLeases + 2 * kSharedLeases;
    std::atomic<int> done{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            ByteBuffer out;
            try {
                if (f.ring.try_put(message_of(8, static_cast<unsigned>(t))) != RingStatus::ok)
                    failures.fetch_add(1);
                // empty while the frame at head is still being written by another thread
                if (!shmbus::test::eventually(
                        [&] { return f.ring.try_get(out) == RingStatus::ok; }))
                    failures.fetch_add(1);
            } catch (const std::exception&) {
                failures.fetch_add(1);
            }
            done.fetch_add(1);
            while (done.load() < kThreads) // keep the lease's owner alive until all are done
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(f.ring.slots_used_guess(), 0u);
    auto* leases = reinterpret_cast<RingLease*>(&f.memory.state<char>() + f.header().leases_offset);
    for (std::uint32_t i = kOwnedLeases; i < kRingLeases; ++i)
        EXPECT_EQ(leases[i].owner.load(), kNoOwner) << "shared lease " << i << " not given back";
}

// Rounds of threads that use the ring once and end: every round after the first finds the
// owned leases held by dead threads, frees them and owns one again; none borrows or fails.
TEST(MpmcRing, leases_of_dead_threads_are_freed_for_newcomers) {
    MpmcFixture f(1024);
    std::atomic<int> failures{0};
    for (int round = 0; round < 3; ++round) {
        std::vector<std::thread> threads;
        for (std::uint32_t t = 0; t < kOwnedLeases; ++t)
            threads.emplace_back([&] {
                ByteBuffer out;
                try {
                    if (f.ring.try_put(message_of(8, 1)) != RingStatus::ok ||
                        !shmbus::test::eventually(
                            [&] { return f.ring.try_get(out) == RingStatus::ok; }))
                        failures.fetch_add(1);
                    auto* leases = reinterpret_cast<RingLease*>(&f.memory.state<char>() +
                                                                f.header().leases_offset);
                    if (&f.lease_of_this_thread() >= leases + kOwnedLeases)
                        failures.fetch_add(1); // borrowed although dead threads held leases
                } catch (const std::exception&) {
                    failures.fetch_add(1);
                }
            });
        for (auto& t : threads)
            t.join();
    }
    EXPECT_EQ(failures.load(), 0);
}

TEST(MpmcRing, attach_rejects_memory_that_is_not_a_ring) {
    ScopedSegment segment;
    auto ref = attach_object(*segment, "", ObjectSpec{ObjectKind::queue, 4096, kCacheLine, 0},
                             OpenMode::create, [](void* at) { std::memset(at, 0, 4096); });
    EXPECT_THROW(MpmcRing(&ref.state<char>(), 4096), CorruptSegment);
    MpmcRing::init(&ref.state<char>(), 2, false);
    EXPECT_THROW(MpmcRing(&ref.state<char>(), 1024), CorruptSegment); // too small for it
    ref.state<MpmcRingHeader>().slot_count = 3;
    EXPECT_THROW(MpmcRing(&ref.state<char>(), 4096), CorruptSegment);
}

// ---- SpscRing -----------------------------------------------------------------------------

namespace {

struct SpscFixture {
    explicit SpscFixture(std::uint64_t capacity)
        : memory(attach_object(
              *segment, "",
              ObjectSpec{ObjectKind::pipe, SpscRing::bytes_for(capacity), kCacheLine, 0},
              OpenMode::create, [capacity](void* at) { SpscRing::init(at, capacity); })),
          ring(&memory.state<char>(), SpscRing::bytes_for(capacity)) {}
    ScopedSegment segment;
    ObjectRef memory;
    SpscRing ring;
};

} // namespace

TEST(SpscRing, fills_to_capacity_exactly_and_streams_across_the_wrap) {
    SpscFixture f(64);
    const auto data = message_of(100, 9);
    EXPECT_EQ(f.ring.write_some(data), 64u);
    EXPECT_EQ(f.ring.write_some(data), 0u);
    std::vector<std::byte> out(40);
    EXPECT_EQ(f.ring.read_some(out), 40u);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), data.begin()));
    EXPECT_EQ(f.ring.write_some(std::span(data).subspan(64)), 36u); // wraps
    std::vector<std::byte> rest(100);
    EXPECT_EQ(f.ring.read_some(rest), 60u);
    EXPECT_TRUE(std::equal(rest.begin(), rest.begin() + 60, data.begin() + 40));
    EXPECT_EQ(f.ring.readable(), 0u);
}

TEST(SpscRing, peek_does_not_consume_and_gathered_writes_publish_together) {
    SpscFixture f(64);
    const auto a = message_of(4, 1);
    const auto b = message_of(10, 2);
    EXPECT_EQ(f.ring.write_some(a, b), 14u);
    std::vector<std::byte> head(4);
    EXPECT_EQ(f.ring.peek(head), 4u);
    EXPECT_EQ(f.ring.peek(head), 4u);
    EXPECT_TRUE(std::equal(head.begin(), head.end(), a.begin()));
    std::vector<std::byte> all(14);
    EXPECT_EQ(f.ring.read_some(all), 14u);
    EXPECT_TRUE(std::equal(all.begin() + 4, all.end(), b.begin()));
}

TEST(SpscRing, a_thread_pair_streams_megabytes_intact) {
    SpscFixture f(4096);
    constexpr std::size_t kTotal = std::size_t{8} << 20;
    std::thread writer([&] {
        std::size_t sent = 0;
        std::vector<std::byte> chunk(1500);
        while (sent < kTotal) {
            const std::size_t n = std::min(chunk.size(), kTotal - sent);
            for (std::size_t i = 0; i < n; ++i)
                chunk[i] = static_cast<std::byte>((sent + i) % 251);
            std::size_t done = 0;
            while (done < n)
                done += f.ring.write_some(std::span(chunk).subspan(done, n - done));
            sent += n;
        }
    });
    std::size_t received = 0;
    std::size_t errors = 0;
    std::vector<std::byte> chunk(999);
    while (received < kTotal) {
        const std::size_t n = f.ring.read_some(chunk);
        for (std::size_t i = 0; i < n; ++i)
            errors += chunk[i] != static_cast<std::byte>((received + i) % 251);
        received += n;
    }
    writer.join();
    EXPECT_EQ(errors, 0u);
}

TEST(SpscRing, attach_rejects_a_bad_capacity) {
    SpscFixture f(64);
    EXPECT_THROW(SpscRing(&f.memory.state<char>(), SpscRing::bytes_for(32)), CorruptSegment);
    f.memory.state<SpscRingHeader>().capacity = 48;
    EXPECT_THROW(SpscRing(&f.memory.state<char>(), SpscRing::bytes_for(64)), CorruptSegment);
}
