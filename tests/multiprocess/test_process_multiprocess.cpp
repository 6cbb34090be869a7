// SPDX-License-Identifier: Apache-2.0
// Process across process boundaries: the message of an uncaught exception on the child's
// stderr, daemon children dying with their parent, stdio buffers and atexit handlers that stay
// the parent's, nested names, active_children, concurrent joins, segment cleanup.
#include "os/liveness.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/process.hpp>
#include <shmbus/segment.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;

namespace {

// A pipe whose ends close themselves; read_all() reads until every writer has closed.
class TestPipe {
public:
    TestPipe() {
        if (::pipe(m_fds) != 0)
            throw std::runtime_error("pipe failed");
    }
    ~TestPipe() {
        close_read();
        close_write();
    }
    TestPipe(const TestPipe&) = delete;
    TestPipe& operator=(const TestPipe&) = delete;

    int read_fd() const { return m_fds[0]; }
    int write_fd() const { return m_fds[1]; }
    void close_write() { close_end(1); }
    void close_read() { close_end(0); }

    void write_all(const std::string& text) const {
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(m_fds[1], text.data() + done, text.size() - done);
            if (n <= 0)
                return;
            done += static_cast<std::size_t>(n);
        }
    }

    std::string read_all() {
        close_write();
        std::string out;
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::read(m_fds[0], buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            out.append(buffer, static_cast<std::size_t>(n));
        }
        return out;
    }

private:
    void close_end(int end) {
        if (m_fds[end] >= 0)
            ::close(m_fds[end]);
        m_fds[end] = -1;
    }
    int m_fds[2] = {-1, -1};
};

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + needle.size()))
        ++count;
    return count;
}

// True when `pid` (started at `start_time`) is gone within `limit`; a zombie counts as gone.
bool gone_within(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (detail::process_alive(pid, start_time)) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

struct PidAndStart {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
};

PidAndStart parse_pid(const std::string& text) {
    PidAndStart result;
    std::istringstream in(text);
    in >> result.pid;
    if (result.pid > 0)
        result.start_time = detail::process_start_time(result.pid).value_or(0);
    return result;
}

namespace custom {
struct BadThing : std::runtime_error {
    using std::runtime_error::runtime_error;
};
} // namespace custom

} // namespace

TEST(ProcessMultiprocess, uncaught_exception_goes_to_child_stderr) {
    TestPipe err;
    const int fd = err.write_fd();
    Process process([fd] {
        ::dup2(fd, 2);
        throw custom::BadThing("boom-42");
    });
    process.set_name("thrower");
    process.start();
    process.join();
    EXPECT_EQ(process.exitcode(), 1);
    const std::string text = err.read_all();
    EXPECT_NE(text.find("Process thrower:"), std::string::npos) << text;
    EXPECT_NE(text.find("custom::BadThing: boom-42"), std::string::npos) << text;
}

TEST(ProcessMultiprocess, non_standard_exception_is_reported_too) {
    TestPipe err;
    const int fd = err.write_fd();
    Process process([fd] {
        ::dup2(fd, 2);
        throw 42;
    });
    process.start();
    process.join();
    EXPECT_EQ(process.exitcode(), 1);
    const std::string text = err.read_all();
    EXPECT_NE(text.find("Process " + process.name() + ":"), std::string::npos) << text;
    EXPECT_NE(text.find("int (not derived from std::exception)"), std::string::npos) << text;
}

namespace {

// Runs an intermediate process that starts a sleeping daemon, reports the daemon's pid, then
// ends by `how`; returns the daemon's identity and whether it was gone within 5 s.
enum class IntermediateEnd { underscore_exit, killed, returns };

bool daemon_dies_with_parent(IntermediateEnd how) {
    TestPipe report;
    TestPipe hold; // the intermediate waits on it until the test has read the daemon's pid
    const int report_fd = report.write_fd();
    const int hold_fd = hold.read_fd();
    const int hold_write_fd = hold.write_fd();
    Process intermediate([report_fd, hold_fd, hold_write_fd, how] {
        ::close(hold_write_fd); // else its own copy would keep the read below from seeing EOF
        Process daemon([] { std::this_thread::sleep_for(30s); });
        daemon.set_daemon(true);
        daemon.start();
        const std::string text = std::to_string(daemon.pid()) + "\n";
        if (::write(report_fd, text.data(), text.size()) < 0)
            shmbus::exit(3);
        char byte = 0;
        while (::read(hold_fd, &byte, 1) < 0 && errno == EINTR) {
        }
        if (how == IntermediateEnd::underscore_exit)
            ::_exit(0); // no destructors: only PR_SET_PDEATHSIG can end the daemon
        if (how == IntermediateEnd::killed)
            std::this_thread::sleep_for(30s);
        // returns: ~Process terminates and reaps the daemon
    });
    intermediate.start();
    report.close_write();
    std::string line;
    char c = 0;
    while (::read(report.read_fd(), &c, 1) == 1 && c != '\n')
        line += c;
    const PidAndStart daemon = parse_pid(line);
    EXPECT_GT(daemon.pid, 0) << "no pid from the intermediate";
    EXPECT_GT(daemon.start_time, 0U) << "daemon not running";
    EXPECT_TRUE(detail::process_alive(daemon.pid, daemon.start_time));
    if (how == IntermediateEnd::killed)
        intermediate.kill();
    hold.close_write(); // lets the intermediate go on
    EXPECT_TRUE(intermediate.join_for(30s));
    const bool gone = daemon.pid > 0 && gone_within(daemon.pid, daemon.start_time, 5000ms);
    if (!gone && daemon.pid > 0)
        ::kill(daemon.pid, SIGKILL); // leave nothing behind
    return gone;
}

} // namespace

TEST(ProcessMultiprocess, daemon_dies_when_parent_exits_without_cleanup) {
    EXPECT_TRUE(daemon_dies_with_parent(IntermediateEnd::underscore_exit));
}

TEST(ProcessMultiprocess, daemon_dies_when_parent_is_killed) {
    EXPECT_TRUE(daemon_dies_with_parent(IntermediateEnd::killed));
}

TEST(ProcessMultiprocess, daemon_is_terminated_by_destructor) {
    EXPECT_TRUE(daemon_dies_with_parent(IntermediateEnd::returns));
}

TEST(ProcessMultiprocess, destructor_joins_a_running_non_daemon_child) {
    TestPipe report;
    const int fd = report.write_fd();
    PidAndStart child;
    {
        Process process([fd] {
            const std::string text = std::to_string(::getpid()) + "\n";
            if (::write(fd, text.data(), text.size()) < 0)
                shmbus::exit(3);
            std::this_thread::sleep_for(200ms);
        });
        process.start();
        report.close_write();
        char buffer[32] = {};
        const ssize_t n = ::read(report.read_fd(), buffer, sizeof buffer - 1);
        ASSERT_GT(n, 0);
        child = parse_pid(buffer);
    }
    // Joined (and so reaped) by the destructor: no process, not even a zombie, is left.
    EXPECT_FALSE(detail::process_alive(child.pid, child.start_time));
    errno = 0;
    EXPECT_EQ(::waitpid(child.pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessMultiprocess, child_does_not_flush_parent_stdio_buffers_again) {
    TestPipe out;
    FILE* stream = ::fdopen(::dup(out.write_fd()), "w");
    ASSERT_NE(stream, nullptr);
    static char buffer[1 << 14];
    ASSERT_EQ(std::setvbuf(stream, buffer, _IOFBF, sizeof buffer), 0);
    std::fputs("parent-line\n", stream); // stays in the buffer until start() flushes it
    Process process([stream] { std::fputs("child-line\n", stream); });
    process.start();
    process.join();
    std::fclose(stream);
    EXPECT_EQ(process.exitcode(), 0);
    const std::string text = out.read_all();
    EXPECT_EQ(count_of(text, "parent-line\n"), 1U) << text;
    EXPECT_EQ(count_of(text, "child-line\n"), 1U) << text;
}

namespace {

std::string g_atexit_marker;   // where the handler writes, when it runs in another process
pid_t g_atexit_registrant = 0; // the process that registered it

void atexit_handler() {
    if (::getpid() == g_atexit_registrant || g_atexit_marker.empty())
        return;
    std::ofstream(g_atexit_marker, std::ios::app) << "atexit ran in " << ::getpid() << "\n";
}

} // namespace

TEST(ProcessMultiprocess, parent_atexit_handlers_do_not_run_in_the_child) {
    g_atexit_marker = "/tmp/" + test::unique_name("shmbus-atexit") + ".txt";
    g_atexit_registrant = ::getpid();
    ASSERT_EQ(std::atexit(atexit_handler), 0);
    for (int code : {0, 5}) {
        Process process([code] { shmbus::exit(code); });
        process.start();
        process.join();
        EXPECT_EQ(process.exitcode(), code);
    }
    Process thrower([] {
        ::close(2);
        throw std::runtime_error("quiet");
    });
    thrower.start();
    thrower.join();
    EXPECT_EQ(thrower.exitcode(), 1);
    std::ifstream marker(g_atexit_marker);
    EXPECT_FALSE(marker.good()) << "the parent's atexit handler ran in a child";
    std::remove(g_atexit_marker.c_str());
}

namespace {

// Writes `text` to `fd` when run: an exit handler that reports to the parent.
std::function<void()> report_to(int fd, std::string text) {
    return [fd, text = std::move(text)] {
        if (::write(fd, text.data(), text.size()) < 0)
            std::abort();
    };
}

} // namespace

TEST(ProcessMultiprocess, exit_handlers_registered_in_the_child_run_last_first_however_it_ends) {
    for (const int ending : {0, 1, 2}) { // returns, shmbus::exit(4), throws
        TestPipe report;
        const int fd = report.write_fd();
        Process process([fd, ending] {
            ::dup2(fd, 2); // the thrower's report and the failing handler's log
            shmbus::atexit(report_to(fd, "first\n"));
            shmbus::atexit([] { throw std::runtime_error("handler-failed"); });
            shmbus::atexit(report_to(fd, "second\n"));
            if (ending == 1)
                shmbus::exit(4);
            if (ending == 2)
                throw std::runtime_error("target-failed");
        });
        process.start();
        process.join();
        EXPECT_EQ(process.exitcode(), (std::array{0, 4, 1})[static_cast<std::size_t>(ending)]);
        const std::string text = report.read_all();
        const auto second = text.find("second\n");
        const auto failed = text.find("handler-failed");
        const auto first = text.find("first\n");
        EXPECT_TRUE(second != std::string::npos && failed != std::string::npos &&
                    first != std::string::npos && second < failed && failed < first)
            << "ending " << ending << ":\n"
            << text;
    }
}

TEST(ProcessMultiprocess, exit_handlers_stay_with_the_process_that_registered_them) {
    TestPipe report;
    const int fd = report.write_fd();
    const pid_t parent = ::getpid();
    shmbus::atexit([fd, parent] { // runs when this test program ends: then a no-op
        if (::getpid() != parent)
            report_to(fd, "parent's handler ran in a child\n")();
    });
    Process child([fd] {
        Process grandchild([fd] { shmbus::atexit(report_to(fd, "grandchild\n")); });
        shmbus::atexit(report_to(fd, "child\n"));
        grandchild.start();
        grandchild.join();
    });
    child.start();
    child.join();
    EXPECT_EQ(child.exitcode(), 0);
    // A plain forked child that ends through std::exit runs its own handlers there too.
    test::Child plain([fd] {
        shmbus::atexit(report_to(fd, "plain\n"));
        g_atexit_marker.clear(); // std::exit also runs the std::atexit handler of a test above
        std::exit(0);
    });
    EXPECT_EQ(plain.wait(), 0);
    EXPECT_EQ(report.read_all(), "grandchild\nchild\nplain\n");
}

TEST(ProcessMultiprocess, exit_with_a_message_prints_it_and_ends_with_one) {
    TestPipe err;
    const int fd = err.write_fd();
    Process process([fd] {
        ::dup2(fd, 2);
        shmbus::exit("bad configuration: no queue");
    });
    process.start();
    process.join();
    EXPECT_EQ(process.exitcode(), 1);
    EXPECT_EQ(err.read_all(), "bad configuration: no queue\n");
    try {
        shmbus::exit(std::string("caught"));
    } catch (const SystemExit& e) {
        EXPECT_EQ(e.code(), 1);
        EXPECT_EQ(e.message(), std::optional<std::string>("caught"));
    }
    try {
        shmbus::exit(2);
    } catch (const SystemExit& e) {
        EXPECT_EQ(e.code(), 2);
        EXPECT_FALSE(e.message().has_value());
    }
}

TEST(ProcessMultiprocess, a_process_made_in_a_daemon_child_is_daemonic) {
    Process daemon([] {
        Process inner([] {});
        shmbus::exit(inner.daemon() ? 0 : 3);
    });
    daemon.set_daemon(true);
    Process plain([] {
        Process inner([] {});
        shmbus::exit(inner.daemon() ? 3 : 0);
    });
    EXPECT_FALSE(plain.daemon());
    for (Process* process : {&daemon, &plain}) {
        process->start();
        process->join();
        EXPECT_EQ(process->exitcode(), 0) << (process == &daemon ? "daemon" : "plain");
    }
}

TEST(ProcessMultiprocess, nested_children_get_python_names) {
    TestPipe report;
    const int fd = report.write_fd();
    Process outer([fd] {
        Process first([] {});
        Process second([fd] {
            const std::string text = "inner=" + current_process().name + "\n";
            if (::write(fd, text.data(), text.size()) < 0)
                shmbus::exit(3);
        });
        const std::string text = "outer=" + current_process().name + " first=" + first.name() +
                                 " second=" + second.name() + "\n";
        if (::write(fd, text.data(), text.size()) < 0)
            shmbus::exit(3);
        second.start();
        second.join();
        shmbus::exit(second.exitcode().value_or(4));
    });
    outer.start();
    outer.join();
    EXPECT_EQ(outer.exitcode(), 0);
    const std::string n = outer.name().substr(std::string("Process-").size());
    const std::string text = report.read_all();
    EXPECT_NE(text.find("outer=" + outer.name() + " first=Process-" + n + ":1 second=Process-" + n +
                        ":2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("inner=Process-" + n + ":2\n"), std::string::npos) << text;
}

TEST(ProcessMultiprocess, daemon_may_not_start_children) {
    Process daemon([] {
        Process grandchild([] {});
        try {
            grandchild.start();
        } catch (const UsageError&) {
            shmbus::exit(0);
        }
        grandchild.join();
        shmbus::exit(3);
    });
    daemon.set_daemon(true);
    daemon.start();
    daemon.join();
    EXPECT_EQ(daemon.exitcode(), 0);
}

TEST(ProcessMultiprocess, only_the_creating_process_may_start_or_join) {
    Process made_here([] {});
    test::Child other([&made_here] {
        try {
            made_here.start();
        } catch (const UsageError&) {
            return;
        }
        throw std::runtime_error("start from another process was allowed");
    });
    EXPECT_EQ(other.wait(), 0);

    made_here.start();
    test::Child sibling([&made_here] {
        try {
            made_here.join();
        } catch (const UsageError&) {
            return;
        }
        throw std::runtime_error("join from a non-parent was allowed");
    });
    EXPECT_EQ(sibling.wait(), 0);
    made_here.join();
    EXPECT_EQ(made_here.exitcode(), 0);
}

TEST(ProcessMultiprocess, active_children_lists_running_children) {
    std::vector<std::unique_ptr<Process>> children;
    for (int i = 0; i < 3; ++i) {
        children.push_back(std::make_unique<Process>([] { std::this_thread::sleep_for(30s); }));
        children.back()->start();
    }
    std::vector<pid_t> active = active_children();
    for (const auto& child : children)
        EXPECT_NE(std::find(active.begin(), active.end(), child->pid()), active.end());

    children[0]->kill();
    // The killed child leaves the list once it has ended (active_children reaps it).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    do {
        active = active_children();
    } while (std::find(active.begin(), active.end(), children[0]->pid()) != active.end() &&
             std::chrono::steady_clock::now() < deadline &&
             (std::this_thread::sleep_for(5ms), true));
    EXPECT_EQ(std::find(active.begin(), active.end(), children[0]->pid()), active.end());
    EXPECT_EQ(children[0]->exitcode(), -9);
    EXPECT_NE(std::find(active.begin(), active.end(), children[1]->pid()), active.end());

    for (auto& child : children) {
        child->terminate();
        child->join();
    }
    active = active_children();
    for (const auto& child : children)
        EXPECT_EQ(std::find(active.begin(), active.end(), child->pid()), active.end());
}

TEST(ProcessMultiprocess, threads_may_join_one_child_together) {
    Process process([] {
        std::this_thread::sleep_for(100ms);
        shmbus::exit(12);
    });
    process.start();
    std::atomic<int> joined{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([&] {
            if (process.join_for(30s))
                // relaxed is enough: read after the threads are joined.
                joined.fetch_add(1, std::memory_order_relaxed);
        });
    for (auto& thread : threads)
        thread.join();
    // relaxed is enough: std::thread::join ordered the increments before this load.
    EXPECT_EQ(joined.load(std::memory_order_relaxed), 3);
    EXPECT_EQ(process.exitcode(), 12);
}

TEST(ProcessMultiprocess, many_children_report_their_own_exit_codes) {
    std::vector<std::unique_ptr<Process>> children;
    for (int i = 0; i < 10; ++i)
        children.push_back(std::make_unique<Process>([](int code) { shmbus::exit(code); }, i));
    for (auto& child : children)
        child->start();
    for (int i = 0; i < 10; ++i) {
        children[i]->join();
        EXPECT_EQ(children[i]->exitcode(), i);
    }
}

TEST(ProcessMultiprocess, child_leaves_the_segment_process_table) {
    test::ScopedSegment segment;
    Process process([] {});
    process.start();
    const pid_t pid = process.pid();
    process.join();
    for (const AttachedProcess& attached : segment->processes())
        EXPECT_NE(attached.pid, pid) << "child still registered after it ended";
}

TEST(ProcessMultiprocess, default_segment_made_by_a_child_is_removed_at_its_end) {
    TestPipe report;
    const int fd = report.write_fd();
    Process process([fd] {
        const std::string text = Segment::default_segment().name() + "\n";
        if (::write(fd, text.data(), text.size()) < 0)
            shmbus::exit(3);
    });
    process.start();
    process.join();
    ASSERT_EQ(process.exitcode(), 0);
    std::string name = report.read_all();
    ASSERT_FALSE(name.empty());
    name.pop_back();
    if (name.find("." + std::to_string(process.pid()) + ".") == std::string::npos)
        GTEST_SKIP() << "the child inherited this process's default segment " << name;
    EXPECT_THROW(Segment::observe(name), NotFound) << name << " outlived its creator";
}
