// SPDX-License-Identifier: Apache-2.0
// A crash loop: a process tree (a root with a Process child, a Pool, objects in its default
// segment and a named segment) is killed with SIGKILL, every process at once, and started
// again, 50 times (SHMBUS_CRASH_LOOPS). Every restart must succeed, and /dev/shm must hold no
// more than one dead tree's segments at the end: each new tree removes what the dead ones left.
#include "support/harness.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <gtest/gtest.h>
#include <iostream>
#include <poll.h>
#include <set>
#include <shmbus/lock.hpp>
#include <shmbus/pool.hpp>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/segment.hpp>
#include <shmbus/value.hpp>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::UnlinkOnExit;

namespace {

int crash_loops() {
    const char* env = std::getenv("SHMBUS_CRASH_LOOPS");
    const int parsed = env ? std::atoi(env) : 0;
    return parsed > 0 ? parsed : 50;
}

struct Leftovers {
    std::set<pid_t> trees;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0; ///< /dev/shm memory they hold
};

// The default and pool segments that the given roots' trees left in /dev/shm.
Leftovers leftovers_of(const std::vector<pid_t>& roots) {
    Leftovers found;
    DIR* dir = ::opendir("/dev/shm");
    while (const dirent* entry = dir ? ::readdir(dir) : nullptr) {
        const std::string_view name = entry->d_name;
        for (pid_t root : roots) {
            const std::string pid = std::to_string(root) + ".";
            if (!name.starts_with("shmbus.default." + pid) &&
                !name.starts_with("shmbus.pool." + pid))
                continue;
            struct stat st {};
            if (::stat(("/dev/shm/" + std::string(name)).c_str(), &st) == 0)
                found.bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
            found.trees.insert(root);
            ++found.files;
        }
    }
    if (dir)
        ::closedir(dir);
    return found;
}

void remove_leftovers(const std::vector<pid_t>& roots) {
    DIR* dir = ::opendir("/dev/shm");
    std::vector<std::string> names;
    while (const dirent* entry = dir ? ::readdir(dir) : nullptr)
        for (pid_t root : roots) {
            const std::string pid = std::to_string(root) + ".";
            const std::string_view name = entry->d_name;
            if (name.starts_with("shmbus.default." + pid) || name.starts_with("shmbus.pool." + pid))
                names.emplace_back(name);
        }
    if (dir)
        ::closedir(dir);
    for (const std::string& name : names)
        ::unlink(("/dev/shm/" + name).c_str());
}

// The body of one tree's root: leader of its own process group, so that one kill reaches
// every process of the tree.
[[noreturn]] void run_tree(const std::string& named, int ready_fd) {
    ::setpgid(0, 0);
    Segment app = Segment::open_or_create(named, std::size_t{4} << 20);
    Value<long> restarts(app, "restarts", 0);
    restarts.fetch_add(1);
    Queue<int> queue;
    queue.put(1);
    Lock lock;
    Process worker([] {
        for (;;)
            ::pause();
    });
    worker.start();
    Pool pool(1);
    const char byte = 1;
    if (::write(ready_fd, &byte, 1) != 1)
        std::_Exit(1);
    for (;;)
        ::pause();
}

// Reaps every process of the killed tree: orphans come to this process, a subreaper.
void reap_all_children() {
    int status = 0;
    while (::waitpid(-1, &status, 0) > 0 || errno == EINTR) {
    }
}

} // namespace

TEST(CrashLoop, kill_9_of_every_process_then_restart_leaves_at_most_one_trees_segments) {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    const std::string named = shmbus::test::unique_name("crash-loop");
    UnlinkOnExit cleanup(named);
    const int loops = crash_loops();
    std::vector<pid_t> roots;
    int restarted = 0;
    for (int round = 0; round < loops; ++round) {
        int ready[2];
        ASSERT_EQ(::pipe(ready), 0);
        Child root([&] { run_tree(named, ready[1]); });
        pollfd readable{ready[0], POLLIN, 0};
        char byte = 0;
        const bool started = ::poll(&readable, 1, 30'000) == 1 && ::read(ready[0], &byte, 1) == 1;
        ::close(ready[0]);
        ::close(ready[1]);
        restarted += started;
        ::kill(-root.pid(), SIGKILL);
        root.wait();
        reap_all_children();
        roots.push_back(root.pid());
    }
    const Leftovers left = leftovers_of(roots);
    std::cout << "crash loop: " << loops << " restarts tried, " << restarted << " succeeded; "
              << left.trees.size() << " dead trees' segments left (" << left.files << " files, "
              << left.bytes << " bytes of /dev/shm)\n";
    RecordProperty("restarts_tried", loops);
    RecordProperty("restarts_succeeded", restarted);
    RecordProperty("bytes_left", std::to_string(left.bytes));
    EXPECT_EQ(restarted, loops);
    EXPECT_LE(left.trees.size(), 1u);
    remove_leftovers(roots);
}
