// SPDX-License-Identifier: Apache-2.0
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/detail/object.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/segment.hpp>
#include <sys/stat.h>

namespace bip = boost::interprocess;
using namespace shmbus;
using shmbus::test::ScopedSegment;
using shmbus::test::unique_name;
using shmbus::test::UnlinkOnExit;

namespace {

detail::ObjectSpec spec_of(ObjectKind kind, std::size_t size, std::uint64_t tag = 0) {
    return {kind, size, 8, tag};
}

void zero_init(void* p, std::size_t n) {
    std::memset(p, 0, n);
}

} // namespace

TEST(Segment, rejects_invalid_names) {
    EXPECT_THROW(Segment::validate_name(""), InvalidName);
    EXPECT_THROW(Segment::validate_name("a/b"), InvalidName);
    EXPECT_THROW(Segment::validate_name("with space"), InvalidName);
    EXPECT_THROW(Segment::validate_name(".."), InvalidName);
    EXPECT_THROW(Segment::validate_name(std::string(201, 'a')), InvalidName);
    EXPECT_NO_THROW(Segment::validate_name(std::string(200, 'a')));
    EXPECT_NO_THROW(Segment::validate_name("Orders_v2.queue-1"));
    EXPECT_THROW(Segment::create("bad/name", 1 << 20), InvalidName);
    EXPECT_THROW(Segment::open("bad name"), InvalidName);
}

TEST(Segment, create_then_open_sees_same_bytes_and_header) {
    ScopedSegment created;
    Segment opened = Segment::open(created.name());
    EXPECT_EQ(opened.name(), created.name());
    EXPECT_EQ(opened.size(), created->size());
    auto ref = detail::attach_object(*created, "counter", spec_of(ObjectKind::value, 8),
                                     detail::OpenMode::create, [](void* p) { zero_init(p, 8); });
    auto again = detail::attach_object(opened, "counter", spec_of(ObjectKind::value, 8),
                                       detail::OpenMode::open, [](void*) { FAIL(); });
    EXPECT_FALSE(again.created());
    EXPECT_EQ(ref.offset(), again.offset());
    ref.state<std::uint64_t>() = 42;
    EXPECT_EQ(again.state<std::uint64_t>(), 42u);
}

TEST(Segment, default_mode_is_0600) {
    ScopedSegment segment;
    struct stat st {};
    ASSERT_EQ(::stat(("/dev/shm/" + segment.name()).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Segment, create_twice_is_already_exists_and_open_missing_is_not_found) {
    ScopedSegment segment;
    EXPECT_THROW(Segment::create(segment.name(), 1 << 20), AlreadyExists);
    EXPECT_THROW(Segment::open(unique_name("missing")), NotFound);
    EXPECT_FALSE(Segment::unlink(unique_name("missing")));
}

TEST(Segment, too_small_size_is_out_of_space) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    EXPECT_THROW(Segment::create(name, 1024), OutOfSpace);
}

TEST(Segment, objects_are_listed_with_kind_and_name) {
    ScopedSegment segment;
    detail::attach_object(*segment, "l1", spec_of(ObjectKind::lock, 16), detail::OpenMode::create,
                          [](void* p) { zero_init(p, 16); });
    detail::attach_object(*segment, "", spec_of(ObjectKind::event, 16), detail::OpenMode::create,
                          [](void* p) { zero_init(p, 16); });
    const auto objects = segment->objects();
    ASSERT_EQ(objects.size(), 2u);
    EXPECT_EQ(objects[0].name, "l1");
    EXPECT_EQ(objects[0].kind, ObjectKind::lock);
    EXPECT_EQ(objects[1].name, "event#1");
    EXPECT_EQ(objects[1].kind, ObjectKind::event);
    EXPECT_EQ(objects[0].offset % 64, 0u);
    EXPECT_EQ(objects[1].offset % 64, 0u);
}

TEST(Segment, opening_an_object_as_another_kind_is_kind_mismatch) {
    ScopedSegment segment;
    detail::attach_object(*segment, "q", spec_of(ObjectKind::queue, 64), detail::OpenMode::create,
                          [](void* p) { zero_init(p, 64); });
    EXPECT_THROW(detail::attach_object(*segment, "q", spec_of(ObjectKind::lock, 64),
                                       detail::OpenMode::open_or_create, [](void*) {}),
                 KindMismatch);
    EXPECT_THROW(detail::attach_object(*segment, "q", spec_of(ObjectKind::queue, 64, 7),
                                       detail::OpenMode::open, [](void*) {}),
                 KindMismatch);
    EXPECT_THROW(detail::attach_object(*segment, "q", spec_of(ObjectKind::queue, 64),
                                       detail::OpenMode::create, [](void*) {}),
                 AlreadyExists);
    EXPECT_THROW(detail::attach_object(*segment, "nope", spec_of(ObjectKind::queue, 64),
                                       detail::OpenMode::open, [](void*) {}),
                 NotFound);
    EXPECT_THROW(detail::attach_object(*segment, "bad name", spec_of(ObjectKind::queue, 64),
                                       detail::OpenMode::open, [](void*) {}),
                 InvalidName);
}

TEST(Segment, full_heap_is_out_of_space_and_segment_stays_usable) {
    ScopedSegment segment(1 << 20);
    EXPECT_THROW(detail::attach_object(*segment, "big", spec_of(ObjectKind::array, 2 << 20),
                                       detail::OpenMode::create, [](void*) {}),
                 OutOfSpace);
    EXPECT_NO_THROW(detail::attach_object(*segment, "small", spec_of(ObjectKind::array, 1024),
                                          detail::OpenMode::create, [](void*) {}));
}

TEST(Segment, failing_initialiser_leaves_no_entry) {
    ScopedSegment segment;
    EXPECT_THROW(detail::attach_object(*segment, "x", spec_of(ObjectKind::lock, 16),
                                       detail::OpenMode::create,
                                       [](void*) { throw std::runtime_error("boom"); }),
                 std::runtime_error);
    EXPECT_TRUE(segment->objects().empty());
}

TEST(Segment, this_process_is_attached_and_segment_not_stale) {
    ScopedSegment segment;
    const auto processes = segment->processes();
    ASSERT_EQ(processes.size(), 1u);
    EXPECT_EQ(processes[0].pid, getpid());
    EXPECT_TRUE(processes[0].alive);
    EXPECT_FALSE(segment->stale());
}

TEST(Segment, observe_does_not_attach) {
    ScopedSegment segment;
    Segment observer = Segment::observe(segment.name());
    EXPECT_EQ(observer.processes().size(), 1u);
}

namespace {

// Writes a file of `size` bytes named `name` in /dev/shm with `fill` applied to its mapping.
void write_foreign(const std::string& name, std::size_t size,
                   const std::function<void(char*)>& fill) {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write);
    shm.truncate(static_cast<bip::offset_t>(size));
    bip::mapped_region region(shm, bip::read_write);
    fill(static_cast<char*>(region.get_address()));
}

} // namespace

TEST(Segment, foreign_file_is_corrupt_segment) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    write_foreign(name, 1 << 20, [](char* p) { std::memset(p, 0xab, 1 << 20); });
    EXPECT_THROW(Segment::open(name, std::chrono::milliseconds(50)), CorruptSegment);
    // open_or_create must not delete a file that is not ours.
    EXPECT_THROW(Segment::open_or_create(name, 1 << 20), CorruptSegment);
}

TEST(Segment, tiny_file_is_corrupt_segment) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    write_foreign(name, 100, [](char* p) { std::memset(p, 0, 100); });
    EXPECT_THROW(Segment::open(name, std::chrono::milliseconds(50)), CorruptSegment);
}

TEST(Segment, wrong_version_size_or_offsets_are_corrupt_segment) {
    const std::vector<std::function<void(detail::SegmentHeader&)>> damages = {
        [](detail::SegmentHeader& h) { h.layout_version = 99; },
        [](detail::SegmentHeader& h) { h.total_size += 4096; },
        [](detail::SegmentHeader& h) { h.directory_offset = 12; },
        [](detail::SegmentHeader& h) { h.heap_used = h.total_size; },
    };
    for (const auto& damage : damages) {
        ScopedSegment segment;
        damage(detail::mapping_of(*segment).header());
        EXPECT_THROW(Segment::open(segment.name(), std::chrono::milliseconds(50)), CorruptSegment);
    }
}

TEST(Segment, corrupt_directory_entry_is_corrupt_segment) {
    ScopedSegment segment;
    detail::attach_object(*segment, "x", spec_of(ObjectKind::lock, 16), detail::OpenMode::create,
                          [](void*) {});
    detail::directory(detail::mapping_of(*segment).header())[0].offset = 1ull << 40;
    EXPECT_THROW(segment->objects(), CorruptSegment);
    EXPECT_THROW(detail::attach_object(*segment, "x", spec_of(ObjectKind::lock, 16),
                                       detail::OpenMode::open, [](void*) {}),
                 CorruptSegment);
}
