// SPDX-License-Identifier: Apache-2.0
// A segment created 0600 by one user cannot be opened, observed or removed by another:
// PermissionDenied, not a crash or a generic error. CI runs as root, so a forked child drops
// to the unprivileged user nobody (65534) and tries; the test skips (saying why) only when
// not run as root, because then it cannot switch users.
#include "support/harness.hpp"

#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr uid_t kNobody = 65534;

// Runs `body` as nobody in a child; returns its exit code (0: every expectation held).
int as_nobody(const std::function<void()>& body) {
    Child child([&] {
        if (setgid(kNobody) != 0 || setuid(kNobody) != 0)
            throw std::runtime_error("cannot switch to uid 65534");
        body();
    });
    return child.wait();
}

template <class Fn>
void expect_permission_denied(Fn fn, const char* what) {
    try {
        fn();
    } catch (const PermissionDenied& e) {
        if (std::string(e.what()).find("permission denied") == std::string::npos)
            throw std::runtime_error(std::string(what) + ": unclear message: " + e.what());
        return;
    }
    throw std::runtime_error(std::string(what) + ": no PermissionDenied");
}

class Permissions : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root to fork a child that switches to uid 65534 (nobody); "
                            "run as root (CI does) to cover PermissionDenied";
    }
};

TEST_F(Permissions, another_user_cannot_open_observe_or_unlink_a_0600_segment) {
    ScopedSegment segment;
    Lock::create(*segment, "lock");
    const std::string name = segment.name();
    EXPECT_EQ(as_nobody([&] {
                  expect_permission_denied([&] { (void)Segment::open(name); }, "open");
                  expect_permission_denied([&] { (void)Segment::observe(name); }, "observe");
                  expect_permission_denied([&] { (void)Segment::open_or_create(name, 1 << 20); },
                                           "open_or_create");
              }),
              0);
    EXPECT_NO_THROW((void)Lock::open(*segment, "lock")) << "the owner still opens it";
}

TEST_F(Permissions, unlink_by_another_user_in_sticky_dev_shm_is_permission_denied) {
    struct stat shm {};
    ASSERT_EQ(stat("/dev/shm", &shm), 0);
    ScopedSegment segment;
    const std::string name = segment.name();
    // /dev/shm is sticky (1777): only the owner (or root) may remove a name in it.
    ASSERT_NE(shm.st_mode & S_ISVTX, 0u) << "/dev/shm is not sticky on this host";
    EXPECT_EQ(as_nobody([&] {
                  expect_permission_denied([&] { (void)Segment::unlink(name); }, "unlink");
              }),
              0);
    EXPECT_NO_THROW((void)Segment::open(name)) << "the segment is still there";
}

TEST_F(Permissions, a_0666_segment_is_shared_with_other_users) {
    const std::string name = shmbus::test::unique_name();
    shmbus::test::UnlinkOnExit cleanup(name);
    auto segment = Segment::create(name, std::size_t{8} << 20, 0666);
    // The process umask may have narrowed the mode; widen it explicitly as a user would.
    ASSERT_EQ(chmod(("/dev/shm/" + name).c_str(), 0666), 0);
    Queue<int>::create(segment, "q").put(7);
    EXPECT_EQ(as_nobody([&] {
                  auto opened = Segment::open(name);
                  if (Queue<int>::open(opened, "q").get() != 7)
                      throw std::runtime_error("wrong item");
              }),
              0);
}

TEST_F(Permissions, open_or_create_on_another_users_stale_segment_is_permission_denied) {
    const std::string name = shmbus::test::unique_name();
    shmbus::test::UnlinkOnExit cleanup(name);
    // Made by a process that then ends: stale, and owned by root in sticky /dev/shm.
    Child creator([&] { (void)Segment::create(name, std::size_t{4} << 20, 0666); });
    ASSERT_EQ(creator.wait(), 0);
    ASSERT_EQ(chmod(("/dev/shm/" + name).c_str(), 0666), 0);
    ASSERT_EQ(Segment::liveness_of(name), Liveness::stale);
    EXPECT_EQ(as_nobody([&] {
                  try {
                      (void)Segment::open_or_create(name, std::size_t{4} << 20);
                  } catch (const PermissionDenied& e) {
                      if (std::string(e.what()).find("may not remove") == std::string::npos)
                          throw std::runtime_error(std::string("unclear message: ") + e.what());
                      return;
                  }
                  throw std::runtime_error("no PermissionDenied");
              }),
              0);
    EXPECT_EQ(Segment::liveness_of(name), Liveness::stale) << "still there, untouched";
}

} // namespace
