// SPDX-License-Identifier: Apache-2.0
// The files behind segments, as other programs and users may leave them in /dev/shm: planted
// symlinks and forged sizes, files of another layout, segments whose users died, and the
// memory a segment takes. Liveness comes from file locks (core/os/presence.hpp), so it is
// checked here against real processes that live, die and get killed.
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <shmbus/array.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/segment.hpp>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;
using shmbus::test::unique_name;
using shmbus::test::UnlinkOnExit;

namespace {

std::string path_of(const std::string& name) {
    return "/dev/shm/" + name;
}

struct stat stat_of(const std::string& name) {
    struct stat st {};
    ::lstat(path_of(name).c_str(), &st);
    return st;
}

// A file in /dev/shm holding a copy of a real segment's header, then changed by `forge`, and
// sized to `size` (sparse).
void plant_header(const std::string& name, std::uint64_t size,
                  const std::function<void(detail::SegmentHeader&)>& forge) {
    ScopedSegment model;
    detail::SegmentHeader header;
    std::memcpy(static_cast<void*>(&header), &detail::mapping_of(*model).header(), sizeof header);
    forge(header);
    const int fd = ::open(path_of(name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, &header, sizeof header, 0), static_cast<ssize_t>(sizeof header));
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    ::close(fd);
}

// Removes every /dev/shm file whose name starts with `prefix`.
void remove_files_starting_with(const std::string& prefix) {
    DIR* dir = ::opendir("/dev/shm");
    std::vector<std::string> names;
    while (const dirent* entry = dir ? ::readdir(dir) : nullptr)
        if (std::string_view(entry->d_name).starts_with(prefix))
            names.emplace_back(entry->d_name);
    if (dir)
        ::closedir(dir);
    for (const std::string& name : names)
        ::unlink(path_of(name).c_str());
}

} // namespace

TEST(SegmentFiles, a_symlink_under_the_name_is_refused_and_its_target_untouched) {
    ScopedSegment target;
    const std::string link = unique_name();
    UnlinkOnExit cleanup(link);
    ASSERT_EQ(::symlink(path_of(target.name()).c_str(), path_of(link).c_str()), 0);
    EXPECT_THROW((void)Segment::open(link), CorruptSegment);
    EXPECT_THROW((void)Segment::observe(link), CorruptSegment);
    EXPECT_THROW((void)Segment::open_or_create(link, 1 << 20), CorruptSegment);
    EXPECT_EQ(Segment::liveness_of(link), Liveness::unknown);
    EXPECT_TRUE(S_ISLNK(stat_of(link).st_mode));
    EXPECT_NO_THROW((void)Segment::open(target.name()));
}

TEST(SegmentFiles, a_forged_size_of_200_TiB_is_corrupt_and_never_mapped) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    const std::uint64_t huge = std::uint64_t{200} << 40;
    plant_header(name, huge, [&](detail::SegmentHeader& h) { h.total_size = huge; });
    EXPECT_THROW((void)Segment::observe(name), CorruptSegment);
    EXPECT_THROW((void)Segment::open(name), CorruptSegment);
    EXPECT_EQ(Segment::liveness_of(name), Liveness::stale) << "our layout, and nobody in it";
}

TEST(SegmentFiles, a_file_of_another_layout_version_is_unknown_and_never_replaced) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    plant_header(name, std::uint64_t{4} << 20,
                 [](detail::SegmentHeader& h) { h.layout_version = 1; });
    const ino_t inode = stat_of(name).st_ino;
    EXPECT_EQ(Segment::liveness_of(name), Liveness::unknown);
    EXPECT_FALSE(Segment::unlink_if_stale(name));
    EXPECT_THROW((void)Segment::open_or_create(name, 1 << 20), CorruptSegment);
    EXPECT_EQ(stat_of(name).st_ino, inode);
}

TEST(SegmentFiles, a_segment_takes_memory_only_for_its_tables_and_objects) {
    ScopedSegment segment(std::size_t{64} << 20);
    const auto bytes = [&] {
        return static_cast<std::uint64_t>(stat_of(segment.name()).st_blocks) * 512;
    };
    EXPECT_LT(bytes(), std::uint64_t{2} << 20) << "a new 64 MiB segment is sparse";
    Array<char> array(*segment, "frame", std::size_t{16} << 20);
    EXPECT_GE(bytes(), std::uint64_t{16} << 20) << "an object's bytes are reserved when it is made";
    EXPECT_LT(bytes(), std::uint64_t{20} << 20);
}

TEST(SegmentFiles, liveness_follows_the_processes_and_unlink_if_stale_removes_only_dead_ones) {
    const std::string name = unique_name();
    UnlinkOnExit cleanup(name);
    Child owner([&] {
        Segment segment = Segment::create(name, std::size_t{4} << 20);
        for (;;)
            ::pause();
    });
    ASSERT_TRUE(eventually([&] { return Segment::liveness_of(name) == Liveness::live; }));
    EXPECT_FALSE(Segment::unlink_if_stale(name));
    const ino_t inode = stat_of(name).st_ino;
    {
        Segment joined = Segment::open_or_create(name, 1 << 20);
        EXPECT_EQ(stat_of(name).st_ino, inode) << "open_or_create joins a live segment";
    }
    owner.kill(SIGKILL);
    owner.wait();
    EXPECT_EQ(Segment::liveness_of(name), Liveness::stale);
    Segment fresh = Segment::open_or_create(name, std::size_t{4} << 20);
    EXPECT_NE(stat_of(name).st_ino, inode) << "a dead segment is replaced";
    EXPECT_FALSE(Segment::unlink_if_stale(name)) << "this process now uses it";
}

TEST(SegmentFiles, a_dead_trees_default_segment_is_removed_by_the_next_tree_that_starts) {
    Child crashed([] {
        (void)Segment::default_segment();
        ::raise(SIGKILL);
    });
    EXPECT_EQ(crashed.wait(), -SIGKILL);
    const std::string left = "shmbus.default." + std::to_string(crashed.pid()) + ".";
    bool was_left = false;
    {
        DIR* dir = ::opendir("/dev/shm");
        while (const dirent* entry = dir ? ::readdir(dir) : nullptr)
            was_left = was_left || std::string_view(entry->d_name).starts_with(left);
        if (dir)
            ::closedir(dir);
    }
    EXPECT_TRUE(was_left) << "kill -9 leaves the default segment behind";
    Child next([&] {
        (void)Segment::default_segment();
        DIR* dir = ::opendir("/dev/shm");
        while (const dirent* entry = dir ? ::readdir(dir) : nullptr)
            if (std::string_view(entry->d_name).starts_with(left))
                throw std::runtime_error(std::string("still there: ") + entry->d_name);
        if (dir)
            ::closedir(dir);
    });
    EXPECT_EQ(next.wait(), 0);
    remove_files_starting_with(left);
    remove_files_starting_with("shmbus.default." + std::to_string(next.pid()) + ".");
}

TEST(SegmentFiles, fork_while_other_threads_use_the_default_segment_never_hangs) {
    (void)Segment::default_segment();
    std::atomic<bool> stop{false};
    std::vector<std::thread> users;
    for (int i = 0; i < 2; ++i)
        users.emplace_back([&] {
            // relaxed is enough: a stop flag, nothing published with it.
            while (!stop.load(std::memory_order_relaxed))
                (void)Segment::default_segment();
        });
    int hung = 0;
    for (int round = 0; round < 300; ++round) {
        Child child([] { (void)Segment::default_segment(); }, std::chrono::seconds(20));
        hung += child.wait(std::chrono::seconds(20)) != 0;
    }
    // relaxed is enough: joined right after.
    stop.store(true, std::memory_order_relaxed);
    for (std::thread& user : users)
        user.join();
    EXPECT_EQ(hung, 0);
}

TEST(SegmentFiles, truncation_by_the_owner_is_corrupt_for_new_openers) {
    ScopedSegment segment;
    ASSERT_EQ(::truncate(path_of(segment.name()).c_str(), 8192), 0);
    EXPECT_THROW((void)Segment::open(segment.name(), std::chrono::milliseconds(50)),
                 CorruptSegment);
    EXPECT_THROW((void)Segment::observe(segment.name(), std::chrono::milliseconds(50)),
                 CorruptSegment);
}

TEST(SegmentFiles, truncation_under_an_attached_process_is_a_sigbus_there_as_documented) {
    ScopedSegment segment(std::size_t{4} << 20);
    Array<char> array(*segment, "bytes", std::size_t{1} << 20);
    const std::string name = segment.name();
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    Child reader([&] {
        std::signal(SIGBUS, SIG_DFL); // a sanitizer's handler would report it and exit 1
        Segment opened = Segment::open(name);
        auto seen = Array<char>::open(opened, "bytes");
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1)
            throw std::runtime_error("pipe");
        const volatile char* bytes = &seen[0];
        for (;;)
            for (std::size_t i = 0; i < seen.size(); i += 4096) {
                const char byte = bytes[i]; // a real read each time: the page must be touched
                (void)byte;
            }
    });
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    ASSERT_EQ(::truncate(path_of(name).c_str(), 8192), 0);
    EXPECT_EQ(reader.wait(std::chrono::seconds(30)), -SIGBUS);
}
