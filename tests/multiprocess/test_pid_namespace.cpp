// SPDX-License-Identifier: Apache-2.0
// Segments shared with a container: a process in another PID namespace (like a default docker
// container with a shared /dev/shm, or one run with --ipc=host) sees other pids, or none, for
// the host's processes, and the host sees other pids for its. Liveness must hold both ways:
// a live segment is never reported stale, replaced or removed, and a lock held over there is
// never taken over here. The "container" is a grandchild made with unshare(CLONE_NEWPID |
// CLONE_NEWNS) that mounts its own /proc, as a container runtime does. It needs
// CAP_SYS_ADMIN: the tests skip, saying so, where unshare is not permitted.
#include "support/harness.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/segment.hpp>
#include <shmbus/value.hpp>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;
using shmbus::test::UnlinkOnExit;

namespace {

constexpr int kUnshareDenied = 77;

// A one-byte signal between the host test and the container (a pipe: the thing under test is
// the segment, so the handshake must not depend on it).
class Signal {
public:
    Signal() {
        if (::pipe(m_fds) != 0)
            throw std::runtime_error("pipe failed");
    }
    ~Signal() {
        ::close(m_fds[0]);
        ::close(m_fds[1]);
    }
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;
    void raise() const {
        const char byte = 1;
        if (::write(m_fds[1], &byte, 1) != 1)
            throw std::runtime_error("signal write failed");
    }
    /// Throws when nothing arrives within 30 s (the other side died before raising it).
    void wait() const {
        pollfd readable{m_fds[0], POLLIN, 0};
        char byte = 0;
        if (::poll(&readable, 1, 30'000) != 1 || ::read(m_fds[0], &byte, 1) != 1)
            throw std::runtime_error("no signal from the other side within 30 s");
    }

private:
    int m_fds[2] = {-1, -1};
};

// Becomes pid 1 of a new PID namespace with its own /proc, then runs body there. Exits with
// the body's verdict (0 ok, 1 failed) or kUnshareDenied.
[[noreturn]] void become_container(const std::function<void()>& body) {
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
        std::_Exit(kUnshareDenied);
    const pid_t init = ::fork();
    if (init == 0) {
        int verdict = 1;
        try {
            if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
                ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr) != 0)
                throw std::runtime_error(std::string("mount /proc: ") + std::strerror(errno));
            if (::getpid() != 1)
                throw std::runtime_error("not pid 1 of a new namespace");
            body();
            verdict = 0;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "container: %s\n", e.what());
        }
        std::_Exit(verdict);
    }
    int status = 0;
    while (init > 0 && ::waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    std::_Exit(init > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

struct Container {
    explicit Container(const std::function<void()>& body)
        : child([body] { become_container(body); }) {}
    Child child;
};

void check(bool condition, const char* what) {
    if (!condition)
        throw std::runtime_error(what);
}

ino_t inode_of(const std::string& name) {
    struct stat st {};
    return ::stat(("/dev/shm/" + name).c_str(), &st) == 0 ? st.st_ino : 0;
}

bool unshare_permitted() {
    Child probe(
        [] { std::_Exit(::unshare(CLONE_NEWPID | CLONE_NEWNS) == 0 ? 0 : kUnshareDenied); });
    return probe.wait() == 0;
}

class PidNamespace : public ::testing::Test {
protected:
    void SetUp() override {
        if (!unshare_permitted())
            GTEST_SKIP() << "unshare(CLONE_NEWPID | CLONE_NEWNS) is not permitted here (it needs "
                            "CAP_SYS_ADMIN: run as root, as CI does)";
    }
};

TEST_F(PidNamespace, a_container_finds_a_host_segment_live_and_joins_it) {
    ScopedSegment host(std::size_t{4} << 20);
    Value<int> value(*host, "value", 41);
    const std::string name = host.name();
    const ino_t inode = inode_of(name);
    Container container([&] {
        check(Segment::liveness_of(name) == Liveness::live, "host segment not live");
        check(!Segment::unlink_if_stale(name), "gc would remove a live segment");
        Segment joined = Segment::open_or_create(name, std::size_t{4} << 20);
        check(inode_of(name) == inode, "open_or_create replaced a live segment");
        Value<int> seen(joined, "value");
        check(seen.load() == 41, "not the host's object");
        seen.store(42);
    });
    EXPECT_EQ(container.child.wait(), 0);
    EXPECT_EQ(value.load(), 42);
    EXPECT_EQ(inode_of(name), inode);
}

TEST_F(PidNamespace, the_host_finds_a_container_segment_live_until_the_container_ends) {
    const std::string name = shmbus::test::unique_name();
    UnlinkOnExit cleanup(name);
    Signal created;
    Signal release;
    Container container([&] {
        Segment segment = Segment::open_or_create(name, std::size_t{4} << 20);
        Value<int> value(segment, "value", 7);
        created.raise();
        release.wait();
    });
    created.wait();
    const ino_t inode = inode_of(name);
    EXPECT_EQ(Segment::liveness_of(name), Liveness::live);
    EXPECT_FALSE(Segment::unlink_if_stale(name));
    {
        Segment observed = Segment::observe(name);
        const auto processes = observed.processes();
        ASSERT_EQ(processes.size(), 1u);
        EXPECT_TRUE(processes[0].alive);
        EXPECT_FALSE(processes[0].in_this_pid_namespace);
        Segment joined = Segment::open_or_create(name, std::size_t{4} << 20);
        EXPECT_EQ(inode_of(name), inode) << "open_or_create replaced a live segment";
        EXPECT_EQ(Value<int>(joined, "value").load(), 7);
    }
    release.raise();
    EXPECT_EQ(container.child.wait(), 0);
    EXPECT_EQ(Segment::liveness_of(name), Liveness::stale);
    EXPECT_TRUE(Segment::unlink_if_stale(name));
}

TEST_F(PidNamespace, a_lock_held_in_a_container_is_not_taken_over_by_the_host) {
    ScopedSegment host(std::size_t{8} << 20);
    Lock lock = Lock::create(*host, "lock");
    Queue<int> queue = Queue<int>::create(*host, "queue");
    const std::string name = host.name();
    Signal holding;
    Signal release;
    Container container([&] {
        Segment segment = Segment::open(name);
        Lock held = Lock::open(segment, "lock");
        check(held.try_acquire().acquired, "lock not free");
        Queue<int>::open(segment, "queue").put(5);
        holding.raise();
        release.wait();
        held.release();
    });
    holding.wait();
    EXPECT_EQ(queue.get(), 5);
    // Its holder's pid names no live process here (or another one): only the namespace rule
    // keeps the host from calling it dead. Long enough for several owner probes.
    EXPECT_FALSE(lock.acquire_for(std::chrono::milliseconds(300)).acquired);
    release.raise();
    EXPECT_EQ(container.child.wait(), 0);
    const AcquireResult after = lock.acquire_for(std::chrono::seconds(20));
    EXPECT_TRUE(after.acquired);
    EXPECT_FALSE(after.owner_died);
    lock.release();
}

} // namespace
