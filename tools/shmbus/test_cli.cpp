// SPDX-License-Identifier: Apache-2.0
// The shmbus CLI against real segments: primitives held by this process and by forked children,
// a creator killed with SIGKILL (stale), foreign and damaged files, files planted by a hostile
// local user (symlinks, huge sparse files, many tiny or never-ready headers), another user's
// view (a child turned into `nobody`), usage errors. Commands run in-process through cli::run,
// so output and exit codes are checked without spawning.
#include "cli.hpp"
#include "footprint.hpp"
#include "manager/manager_store.hpp"
#include "messaging/pipe_state.hpp"
#include "messaging/queue_state.hpp"
#include "messaging/topic_state.hpp"
#include "process/pool_state.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"
#include "sync/sync_state.hpp"
#include "test_cli_run.hpp"

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <gtest/gtest.h>
#include <optional>
#include <pwd.h>
#include <random>
#include <set>
#include <shmbus/barrier.hpp>
#include <shmbus/condition.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/pool.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <shmbus/value.hpp>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace shmbus {
namespace {

namespace bip = boost::interprocess;
using nlohmann::json;
using test::Child;
using test::Outcome;
using test::ScopedSegment;
using test::shmbus_run;
using test::UnlinkOnExit;

const cli::ObjectReport& find_object(const cli::SegmentReport& report, std::string_view name) {
    for (const cli::ObjectReport& object : report.objects)
        if (object.name == name)
            return object;
    throw std::runtime_error("no object " + std::string(name));
}

const json* find_segment(const json& ls, std::string_view name) {
    for (const json& segment : ls.at("segments"))
        if (segment.at("name") == name)
            return &segment;
    return nullptr;
}

// Runs `body` in a child that then reports readiness through a pipe and sleeps until killed.
Child ready_child(const std::function<void()>& body) {
    int fds[2];
    if (::pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
    Child child([&] {
        body();
        const char ready = 'r';
        (void)!::write(fds[1], &ready, 1);
        for (;;)
            ::pause();
    });
    ::close(fds[1]);
    char ready = 0;
    const bool ok = ::read(fds[0], &ready, 1) == 1;
    ::close(fds[0]);
    if (!ok)
        throw std::runtime_error("child failed before it was ready");
    return child;
}

// A POSIX shm object holding `bytes`, made without the library (a foreign or damaged file).
void write_raw_segment(const std::string& name, const std::vector<unsigned char>& bytes) {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write);
    shm.truncate(static_cast<bip::offset_t>(bytes.size()));
    bip::mapped_region region(shm, bip::read_write);
    std::memcpy(region.get_address(), bytes.data(), bytes.size());
}

std::vector<unsigned char> random_bytes(std::size_t count) {
    std::mt19937 engine(12345);
    std::vector<unsigned char> bytes(count);
    for (unsigned char& byte : bytes)
        byte = static_cast<unsigned char>(engine());
    return bytes;
}

std::string shm_path(const std::string& name) {
    return std::string(cli::kShmDirectory) + "/" + name;
}

// A file planted in /dev/shm by hand (a symlink, a sparse file, a tiny file), removed however
// the test ends. Made before the file is, so a failed plant is cleaned up too.
class PlantedFile {
public:
    explicit PlantedFile(const std::string& name) : m_path(shm_path(name)) {}
    ~PlantedFile() { ::unlink(m_path.c_str()); }
    PlantedFile(const PlantedFile&) = delete;
    PlantedFile& operator=(const PlantedFile&) = delete;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

bool exists_unfollowed(const std::string& name) {
    struct stat info {};
    return ::lstat(shm_path(name).c_str(), &info) == 0;
}

void write_at(const std::string& path, const void* bytes, std::size_t count, off_t offset) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot open " + path);
    const bool written = ::pwrite(fd, bytes, count, offset) == static_cast<ssize_t>(count);
    ::close(fd);
    if (!written)
        throw std::runtime_error("cannot write " + path);
}

// A real, valid segment header (made by the library) on a file then grown to `file_size`;
// `header_size`, when given, replaces the size the header records.
void plant_sized_segment(const std::string& name, std::uint64_t file_size,
                         std::optional<std::uint64_t> header_size = std::nullopt) {
    { const Segment segment = Segment::create(name, std::size_t{4} << 20); }
    if (::truncate(shm_path(name).c_str(), static_cast<off_t>(file_size)) != 0)
        throw std::runtime_error("cannot resize " + name);
    if (header_size)
        write_at(shm_path(name), &*header_size, sizeof *header_size,
                 offsetof(detail::SegmentHeader, total_size));
}

// A segment whose creator was SIGKILLed while attached: stale.
void make_stale_segment(const std::string& name, unsigned mode = Segment::kDefaultMode) {
    Child creator =
        ready_child([&] { new Segment(Segment::create(name, std::size_t{4} << 20, mode)); });
    creator.kill(SIGKILL);
    creator.wait();
}

// Runs the CLI in a forked child that has become user `nobody`; the outcome comes back as JSON
// through a pipe. Only for root (see the GTEST_SKIP in the tests).
Outcome shmbus_run_as(const passwd& user, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
    const uid_t uid = user.pw_uid;
    const gid_t gid = user.pw_gid;
    Child child([&] {
        ::close(fds[0]);
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
            throw std::runtime_error("cannot change user");
        const Outcome outcome = shmbus_run(args);
        const std::string message =
            json{{"code", outcome.code}, {"out", outcome.out}, {"err", outcome.err}}.dump();
        for (std::size_t sent = 0; sent < message.size();) {
            const ssize_t n = ::write(fds[1], message.data() + sent, message.size() - sent);
            if (n <= 0)
                throw std::runtime_error("cannot report the outcome");
            sent += static_cast<std::size_t>(n);
        }
    });
    ::close(fds[1]);
    std::string received;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
        received.append(buffer, static_cast<std::size_t>(n));
    ::close(fds[0]);
    if (child.wait() != 0)
        throw std::runtime_error("the child running as " + std::string(user.pw_name) + " failed");
    const json outcome = json::parse(received);
    return {outcome.at("code").get<int>(), outcome.at("out"), outcome.at("err")};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

class CliPrimitives : public ::testing::Test {
protected:
    ScopedSegment segment;
    Lock lock{*segment, "lock"};
    Semaphore semaphore{*segment, "sem", 3};
    Event event{*segment, "event"};
    Value<int> value{*segment, "answer", 42};
    Value<double> ratio{*segment, "ratio", 0.5};
    Barrier barrier{*segment, "barrier", 3};

    void SetUp() override {
        lock.acquire();
        event.set();
    }
    void TearDown() override { lock.release(); }
};

TEST_F(CliPrimitives, InspectDecodesEachPrimitive) {
    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    EXPECT_EQ(report.segment.status, cli::SegmentStatus::ok);
    EXPECT_EQ(report.segment.creator_pid, ::getpid());

    const cli::ObjectReport& held = find_object(report, "lock");
    EXPECT_EQ(held.kind, ObjectKind::lock);
    EXPECT_EQ(held.state["held"], true);
    EXPECT_EQ(held.state["owner_pid"], ::getpid());
    EXPECT_EQ(held.state["owner_dead"], false);
    EXPECT_EQ(find_object(report, "sem").state["value"], 3);
    EXPECT_EQ(find_object(report, "event").state["set"], true);
    EXPECT_EQ(find_object(report, "answer").state["value"], 42);
    EXPECT_EQ(find_object(report, "answer").state["type"], "int32");
    EXPECT_EQ(find_object(report, "ratio").state["value"], 0.5);
    EXPECT_EQ(find_object(report, "ratio").state["type"], "double");
    EXPECT_EQ(find_object(report, "barrier").state["parties"], 3);
    EXPECT_EQ(find_object(report, "barrier").state["waiting"], 0);
    EXPECT_EQ(find_object(report, "barrier").state["broken"], false);
}

TEST(CliTypes, InspectNamesCharacterAndBoolElements) {
    ScopedSegment segment;
    Value<char> c(*segment, "c", 'x');
    Value<wchar_t> u(*segment, "u", L'u');
    Value<bool> flag(*segment, "flag", true);
    Array<char> chars(*segment, "chars", 4);
    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    EXPECT_EQ(find_object(report, "c").state["type"], "char");
    EXPECT_EQ(find_object(report, "u").state["type"], "char32");
    EXPECT_EQ(find_object(report, "flag").state["type"], "bool");
    EXPECT_EQ(find_object(report, "chars").state["element_type"], "char");
}

TEST_F(CliPrimitives, InspectTextShowsStates) {
    const Outcome result = shmbus_run({"inspect", segment.name()});
    ASSERT_EQ(result.code, cli::kExitOk) << result.err;
    EXPECT_NE(result.out.find("held by " + std::to_string(::getpid())), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("value 3"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("int32 42"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("0/3 waiting"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("STALE"), std::string::npos) << result.out;
}

TEST_F(CliPrimitives, InspectJsonFollowsSchema) {
    const Outcome result = shmbus_run({"inspect", segment.name(), "--json"});
    ASSERT_EQ(result.code, cli::kExitOk) << result.err;
    const json document = json::parse(result.out);
    EXPECT_EQ(document["schema"], "shmbus.inspect");
    EXPECT_EQ(document["version"], cli::kSchemaVersion);
    EXPECT_EQ(document["segment"]["name"], segment.name());
    EXPECT_EQ(document["segment"]["stale"], false);
    bool saw_event = false;
    for (const json& object : document["objects"]) {
        if (object["name"] == "event") {
            saw_event = true;
            EXPECT_EQ(object["kind"], "event");
            EXPECT_EQ(object["state"]["set"], true);
        }
    }
    EXPECT_TRUE(saw_event);
}

TEST_F(CliPrimitives, LsListsTheSegmentAsLive) {
    const Outcome text = shmbus_run({"ls"});
    ASSERT_EQ(text.code, cli::kExitOk) << text.err;
    EXPECT_NE(text.out.find(segment.name()), std::string::npos);

    const Outcome result = shmbus_run({"ls", "--json"});
    ASSERT_EQ(result.code, cli::kExitOk) << result.err;
    const json ls = json::parse(result.out);
    const json* listed = find_segment(ls, segment.name());
    ASSERT_NE(listed, nullptr);
    EXPECT_EQ((*listed)["status"], "ok");
    EXPECT_EQ((*listed)["liveness"], "live");
    EXPECT_EQ((*listed)["mode"], "0600");
    EXPECT_EQ((*listed)["creator_pid"], ::getpid());
    EXPECT_GE((*listed)["object_count"], 6);
}

TEST_F(CliPrimitives, WatchPrintsOneJsonDocumentPerRefresh) {
    const Outcome result =
        shmbus_run({"watch", segment.name(), "--count", "2", "--interval", "0.01", "--json"});
    ASSERT_EQ(result.code, cli::kExitOk) << result.err;
    std::istringstream lines(result.out);
    std::string line;
    int refreshes = 0;
    while (std::getline(lines, line)) {
        const json document = json::parse(line);
        EXPECT_EQ(document["schema"], "shmbus.watch");
        EXPECT_EQ(document["refresh"], ++refreshes);
    }
    EXPECT_EQ(refreshes, 2);

    const Outcome text = shmbus_run({"watch", segment.name(), "--count", "1"});
    ASSERT_EQ(text.code, cli::kExitOk) << text.err;
    EXPECT_NE(text.out.find("int32 42"), std::string::npos) << text.out;
}

TEST(Cli, InspectShowsQueueDepthCountersAndParkedGetters) {
    ScopedSegment segment;
    const QueueOptions small{.max_message_size = 1024};
    Queue<int> queue(*segment, "jobs", QueueOptions{.maxsize = 8, .max_message_size = 1024});
    JoinableQueue<int> tasks(*segment, "tasks", small);
    for (int i = 0; i < 5; ++i)
        queue.put(i);
    queue.get();
    tasks.put(1);
    Queue<int> idle(*segment, "idle", small);
    Child getter([&] {
        if (idle.get_for(std::chrono::seconds(30)) != 7)
            throw std::runtime_error("wrong item");
    });
    ASSERT_TRUE(test::eventually([&] {
        const cli::SegmentReport report = cli::inspect_segment(segment.name());
        return find_object(report, "idle").state.value("getters_parked", 0) == 1;
    }));

    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    const cli::ObjectReport& jobs = find_object(report, "jobs");
    ASSERT_TRUE(jobs.decoded) << jobs.summary;
    EXPECT_EQ(jobs.state["depth"], 4);
    EXPECT_EQ(jobs.state["messages_in"], 5);
    EXPECT_EQ(jobs.state["messages_out"], 1);
    EXPECT_EQ(jobs.state["head"], 1);
    EXPECT_EQ(jobs.state["tail"], 5);
    EXPECT_EQ(jobs.state["reclaim"], jobs.state["capacity_slots"]); // the first lap needs no walk
    EXPECT_EQ(jobs.state["maxsize"], 8);
    EXPECT_EQ(jobs.state["closed"], false);
    EXPECT_EQ(jobs.state["shut_down"], "no");
    EXPECT_EQ(jobs.state["messages_lost"], 0);
    EXPECT_TRUE(jobs.state["unfinished_tasks"].is_null());
    EXPECT_EQ(find_object(report, "tasks").state["unfinished_tasks"], 1);
    const cli::ObjectReport& waiting = find_object(report, "idle");
    EXPECT_GE(waiting.state["parks"], 1);
    EXPECT_NE(waiting.summary.find("1 reader parked"), std::string::npos) << waiting.summary;

    idle.put(7);
    EXPECT_EQ(getter.wait(), 0);
    EXPECT_GE(find_object(cli::inspect_segment(segment.name()), "idle").state["wakes"], 1);

    queue.shutdown(true);
    const cli::ObjectReport shut = find_object(cli::inspect_segment(segment.name()), "jobs");
    EXPECT_EQ(shut.state["shut_down"], "immediate");
    EXPECT_EQ(shut.state["closed"], true);
    EXPECT_EQ(shut.state["depth"], 0);
    EXPECT_NE(shut.summary.find("shut down (immediate)"), std::string::npos) << shut.summary;
}

TEST(Cli, InspectShowsPipeChannelsAndClosedEnds) {
    ScopedSegment segment;
    auto [left, right] = Pipe(*segment);
    left.send(std::string("hello"));
    left.send(std::string("world"));
    right.recv<std::string>();
    right.close();

    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    const auto pipe =
        std::find_if(report.objects.begin(), report.objects.end(),
                     [](const auto& object) { return object.kind == ObjectKind::pipe; });
    ASSERT_NE(pipe, report.objects.end());
    const cli::ObjectReport& link = *pipe;
    ASSERT_TRUE(link.decoded) << link.summary;
    EXPECT_EQ(link.state["duplex"], true);
    EXPECT_EQ(link.state["messages_in"], 2);
    EXPECT_EQ(link.state["messages_out"], 1);
    EXPECT_EQ(link.state["channels"].size(), 2U);
    EXPECT_EQ(link.state["ends"][1]["closed"], true);
    EXPECT_EQ(link.state["ends"][1]["holds"], 0);
    EXPECT_EQ(link.state["ends"][0]["holds"], 1);
    ASSERT_EQ(link.state["ends"][0]["holders"].size(), 1U);
    EXPECT_EQ(link.state["ends"][0]["holders"][0]["pid"], getpid());
    EXPECT_EQ(link.state["ends"][0]["holders"][0]["alive"], true);
    EXPECT_NE(link.summary.find("end 1 closed"), std::string::npos) << link.summary;
}

TEST(Cli, InspectShowsDictAndListEntries) {
    ScopedSegment segment;
    Manager manager(*segment);
    auto scores = manager.dict<int>("scores", {.capacity_bytes = 4096});
    auto log = manager.list<std::string>("log", {.capacity_bytes = 4096});
    scores.set("a", 1);
    scores.set("b", 2);
    scores.erase("a");
    log.append("x");

    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    const cli::ObjectReport& dict = find_object(report, "scores");
    ASSERT_TRUE(dict.decoded) << dict.summary;
    EXPECT_EQ(dict.state["entries"], 1);
    EXPECT_GT(dict.state["heap_used"].get<std::uint64_t>(), 0U);
    EXPECT_EQ(find_object(report, "log").state["entries"], 1);
}

int square(int x) {
    return x * x;
}

TEST(Cli, InspectShowsPoolWorkersAndTasks) {
    Pool pool(2);
    const std::vector<int> squares = pool.map(square, std::vector<int>{1, 2, 3, 4});
    ASSERT_EQ(squares.back(), 16);

    const cli::SegmentReport report = cli::inspect_segment(pool.segment_name());
    const cli::ObjectReport& state = find_object(report, "pool");
    ASSERT_TRUE(state.decoded) << state.summary;
    EXPECT_EQ(state.state["workers"].size(), 2U);
    for (const json& worker : state.state["workers"])
        EXPECT_EQ(worker["alive"], true);
    EXPECT_EQ(state.state["tasks_pending"], 0);
    EXPECT_EQ(state.state["tasks_submitted"], state.state["tasks_done"]);
    EXPECT_GE(state.state["tasks_done"].get<std::uint64_t>(), 1U);
    EXPECT_EQ(state.state["closed"], false);
}

// Flips one byte of the magic of the state (or the ring nested in it) `at` bytes into object
// `name`: the check inspect runs is validate() (core/segment/state_ref.hpp), the library's own.
void forge_magic(const Segment& segment, std::string_view name, std::size_t at) {
    for (const ObjectInfo& info : segment.objects())
        if (info.name == name)
            detail::mapping_of(segment).base()[info.offset + at + 3] ^= 0x20;
}

void expect_reported_corrupt(const cli::ObjectReport& object) {
    EXPECT_FALSE(object.decoded) << object.name;
    EXPECT_NE(object.problem.find("magic"), std::string::npos)
        << object.name << ": " << object.problem;
    EXPECT_EQ(object.summary.rfind("corrupt: ", 0), 0U) << object.name << ": " << object.summary;
}

TEST(Cli, InspectReportsEveryForgedStateAsCorrupt) {
    ScopedSegment segment;
    const Segment& s = *segment;
    (void)Lock::create(s, "lock");
    (void)Semaphore::create(s, "sem", 1);
    (void)Event::create(s, "event");
    (void)Condition::create(s, "cond");
    (void)Barrier::create(s, "barrier", 2);
    (void)Queue<int>::create(s, "queue", QueueOptions{.max_message_size = 64});
    (void)Queue<int>::create(s, "queue.ring", QueueOptions{.max_message_size = 64});
    (void)Manager(s).dict<int>("dict", {.capacity_bytes = 4096});
    (void)Manager(s).list<int>("list", {.capacity_bytes = 4096});
    auto pipe = Pipe(s);
    const std::vector<std::pair<std::string, std::size_t>> forged = {
        {"lock", offsetof(detail::LockState, magic)},
        {"sem", offsetof(detail::SemaphoreState, magic)},
        {"event", offsetof(detail::EventState, magic)},
        {"cond", offsetof(detail::ConditionState, magic)},
        {"barrier", offsetof(detail::BarrierState, magic)},
        {"queue", offsetof(detail::QueueState, magic)},
        {"queue.ring", sizeof(detail::QueueState) + offsetof(detail::MpmcRingHeader, magic)},
        {"dict", offsetof(detail::ContainerState, magic)},
        {"list", offsetof(detail::ContainerState, magic)},
        {"pipe#1", offsetof(detail::PipeState, magic)}};
    for (const auto& [name, at] : forged)
        forge_magic(s, name, at);

    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    for (const auto& [name, at] : forged)
        expect_reported_corrupt(find_object(report, name));
    const json inspected = json::parse(shmbus_run({"inspect", "--json", segment.name()}).out);
    for (const json& object : inspected["objects"])
        EXPECT_TRUE(object["problem"].is_string()) << object.dump();
}

TEST(Cli, InspectReportsAForgedPipeRingAndPoolStateAsCorrupt) {
    ScopedSegment segment;
    auto pipe = Pipe(*segment, false);
    const std::size_t ring = sizeof(detail::PipeState) + offsetof(detail::SpscRingHeader, magic);
    forge_magic(*segment, "pipe#1", ring);
    expect_reported_corrupt(find_object(cli::inspect_segment(segment.name()), "pipe#1"));

    Pool pool(1);
    forge_magic(Segment::open(pool.segment_name()), "pool", offsetof(detail::PoolState, magic));
    expect_reported_corrupt(find_object(cli::inspect_segment(pool.segment_name()), "pool"));
}

TEST(Cli, InspectShowsTopicPublishersSubscribersLagAndDrops) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "ticks",
                                    {.capacity = 4, .slow_subscriber = SlowSubscriber::overwrite});
    auto fast = topic.subscribe();
    auto slow = topic.subscribe();
    for (int i = 0; i < 10; ++i)
        topic.publish(i);
    for (int i = 0; i < 4; ++i) {
        try {
            (void)fast.recv();
        } catch (const Lagged&) {
        }
    }

    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    const cli::ObjectReport& ticks = find_object(report, "ticks");
    ASSERT_TRUE(ticks.decoded) << ticks.summary;
    EXPECT_EQ(ticks.state["slow_subscriber"], "overwrite");
    EXPECT_EQ(ticks.state["messages_in"], 10);
    ASSERT_EQ(ticks.state["publishers"].size(), 1U);
    EXPECT_EQ(ticks.state["publishers"][0]["published"], 10);
    EXPECT_EQ(ticks.state["publishers"][0]["pid"], getpid());
    ASSERT_EQ(ticks.state["subscribers"].size(), 2U);
    EXPECT_EQ(ticks.state["subscribers"][0]["dropped"], 6);
    EXPECT_EQ(ticks.state["subscribers"][0]["received"], 3);
    EXPECT_EQ(ticks.state["subscribers"][0]["lag"], 1);
    EXPECT_EQ(ticks.state["subscribers"][1]["lag"], 10);
    EXPECT_NE(ticks.summary.find("2 subscribers (max lag 10), DROPPED 6"), std::string::npos)
        << ticks.summary;

    forge_magic(*segment, "ticks", offsetof(detail::TopicState, magic));
    expect_reported_corrupt(find_object(cli::inspect_segment(segment.name()), "ticks"));
}

TEST(Cli, WatchReportsMessageRatesBetweenRefreshes) {
    ScopedSegment segment;
    Queue<int> queue(*segment, "flow", QueueOptions{.max_message_size = 1024});
    Event stop(*segment, "stop");
    Child producer([&] {
        for (int i = 0; !stop.is_set() && i < 50'000'000; ++i) {
            (void)queue.try_put(i);
            (void)queue.try_get();
        }
    });
    const Outcome result =
        shmbus_run({"watch", segment.name(), "--count", "2", "--interval", "0.2", "--json"});
    stop.set();
    EXPECT_EQ(producer.wait(), 0);
    ASSERT_EQ(result.code, cli::kExitOk) << result.err;
    std::istringstream lines(result.out);
    std::string first;
    std::string second;
    std::getline(lines, first);
    std::getline(lines, second);
    const auto flow_of = [](const json& document) {
        for (const json& object : document["objects"])
            if (object["name"] == "flow")
                return object["state"];
        return json();
    };
    EXPECT_FALSE(flow_of(json::parse(first)).contains("in_per_s"));
    const json later = flow_of(json::parse(second));
    ASSERT_TRUE(later.contains("in_per_s")) << second;
    EXPECT_GT(later["in_per_s"].get<double>(), 0.0);
    EXPECT_GT(later["out_per_s"].get<double>(), 0.0);
}

TEST(Cli, LockHeldByAKilledChildShowsOwnerDead) {
    ScopedSegment segment;
    Lock lock(*segment, "orphan");
    Child child = ready_child([&] { lock.acquire(); });
    const int pid = child.pid();
    child.kill(SIGKILL);
    child.wait();
    const cli::SegmentReport report = cli::inspect_segment(segment.name());
    const cli::ObjectReport& orphan = find_object(report, "orphan");
    EXPECT_EQ(orphan.state["held"], true);
    EXPECT_EQ(orphan.state["owner_pid"], pid);
    EXPECT_EQ(orphan.state["owner_dead"], true);
    EXPECT_NE(orphan.summary.find("owner dead"), std::string::npos);
}

TEST(Cli, StaleSegmentIsReportedAndOnlyItIsCollected) {
    const std::string prefix = test::unique_name("shmbus-clitest");
    const std::string stale_name = prefix + "-stale";
    const std::string live_name = prefix + "-live";
    UnlinkOnExit unlink_stale(stale_name);
    UnlinkOnExit unlink_live(live_name);
    const Segment live = Segment::create(live_name, std::size_t{4} << 20);
    // The child keeps its handle (so it stays attached) until SIGKILL ends it.
    Child creator =
        ready_child([&] { new Segment(Segment::create(stale_name, std::size_t{4} << 20)); });
    creator.kill(SIGKILL);
    creator.wait();

    const json ls = json::parse(shmbus_run({"ls", "--json"}).out);
    ASSERT_NE(find_segment(ls, stale_name), nullptr);
    EXPECT_EQ((*find_segment(ls, stale_name))["status"], "stale");
    EXPECT_EQ((*find_segment(ls, stale_name))["stale"], true);
    ASSERT_EQ((*find_segment(ls, stale_name))["processes"].size(), 1U);
    EXPECT_EQ((*find_segment(ls, stale_name))["processes"][0]["pid"], creator.pid());
    EXPECT_EQ((*find_segment(ls, stale_name))["processes"][0]["alive"], false);
    ASSERT_NE(find_segment(ls, live_name), nullptr);
    EXPECT_EQ((*find_segment(ls, live_name))["status"], "ok");
    EXPECT_NE(shmbus_run({"ls"}).out.find("STALE"), std::string::npos);

    const Outcome inspect = shmbus_run({"inspect", stale_name});
    EXPECT_EQ(inspect.code, cli::kExitOk);
    EXPECT_NE(inspect.out.find("STALE"), std::string::npos) << inspect.out;

    const Outcome dry = shmbus_run({"gc", "--dry-run", "--prefix", prefix});
    EXPECT_EQ(dry.code, cli::kExitOk);
    EXPECT_EQ(dry.out, "would remove " + stale_name + "\n");
    EXPECT_NO_THROW(Segment::observe(stale_name));

    const Outcome gc = shmbus_run({"gc", "--prefix", prefix});
    EXPECT_EQ(gc.code, cli::kExitOk);
    EXPECT_EQ(gc.out, "removed " + stale_name + "\n");
    EXPECT_THROW(Segment::observe(stale_name), NotFound);
    EXPECT_NO_THROW(Segment::observe(live_name));
    EXPECT_EQ(shmbus_run({"inspect", stale_name}).code, cli::kExitFailure);
}

TEST(Cli, ForeignFileIsNotListedAndInspectFailsClearly) {
    const std::string name = test::unique_name("shmbus-clitest-foreign");
    UnlinkOnExit unlink(name);
    write_raw_segment(name, random_bytes(detail::kMinSegmentSize));

    EXPECT_EQ(find_segment(json::parse(shmbus_run({"ls", "--json"}).out), name), nullptr);
    const Outcome inspect = shmbus_run({"inspect", name});
    EXPECT_EQ(inspect.code, cli::kExitFailure);
    EXPECT_NE(inspect.err.find("not a shmbus segment"), std::string::npos) << inspect.err;
    EXPECT_EQ(shmbus_run({"watch", name, "--count", "1"}).code, cli::kExitFailure);
    // rm refuses another program's shared memory unless forced.
    EXPECT_EQ(shmbus_run({"rm", name}).code, cli::kExitFailure);
    EXPECT_EQ(shmbus_run({"rm", "--force", name}).code, cli::kExitOk);
}

TEST(Cli, DamagedSegmentIsListedAsCorrupt) {
    const std::string name = test::unique_name("shmbus-clitest-damaged");
    UnlinkOnExit unlink(name);
    std::vector<unsigned char> bytes = random_bytes(detail::kMinSegmentSize);
    std::memcpy(bytes.data(), &detail::kSegmentMagic, sizeof detail::kSegmentMagic);
    write_raw_segment(name, bytes);

    const json ls = json::parse(shmbus_run({"ls", "--json"}).out);
    const json* listed = find_segment(ls, name);
    ASSERT_NE(listed, nullptr);
    EXPECT_EQ((*listed)["status"], "corrupt");
    EXPECT_TRUE((*listed)["problem"].is_string());
    const Outcome inspect = shmbus_run({"inspect", name});
    EXPECT_EQ(inspect.code, cli::kExitFailure);
    EXPECT_NE(inspect.err.find(name), std::string::npos) << inspect.err;
    EXPECT_EQ((*listed)["liveness"], "unknown");
    // gc leaves corrupt segments alone: only stale ones are known to be abandoned.
    const Outcome gc = shmbus_run({"gc", "--prefix", name});
    EXPECT_EQ(gc.code, cli::kExitOk);
    EXPECT_EQ(gc.out, "kept " + name + ": liveness unknown (corrupt: " +
                          (*listed)["problem"].get<std::string>() + ")\nno stale segments\n");
    EXPECT_TRUE(exists_unfollowed(name));
}

TEST(Cli, RmRemovesAndReportsMissing) {
    const std::string name = test::unique_name("shmbus-clitest-rm");
    UnlinkOnExit unlink(name);
    { const Segment segment = Segment::create(name, std::size_t{4} << 20); }
    EXPECT_EQ(shmbus_run({"rm", name}).code, cli::kExitOk);
    const Outcome again = shmbus_run({"rm", name});
    EXPECT_EQ(again.code, cli::kExitFailure);
    EXPECT_NE(again.err.find("no such segment"), std::string::npos);
}

TEST(CliHostileFiles, SymlinkAndHugeSparseFilesAreReportedWithoutHidingRealSegments) {
    const std::string prefix = test::unique_name("shmbus-clitest-hostile") + ".";
    const std::string live_name = prefix + "live";
    const std::string stale_name = prefix + "stale";
    const std::string link_name = prefix + "link";
    const std::string huge_name = prefix + "huge";
    const std::string huge_matching_name = prefix + "huge-matching";
    const std::string fifo_name = prefix + "fifo";
    UnlinkOnExit unlink_live(live_name);
    UnlinkOnExit unlink_stale(stale_name);
    PlantedFile link(link_name);
    PlantedFile huge(huge_name);
    PlantedFile huge_matching(huge_matching_name);
    PlantedFile fifo(fifo_name);
    constexpr std::uint64_t k200TiB = std::uint64_t{200} << 40;
    const Segment live = Segment::create(live_name, std::size_t{4} << 20);
    make_stale_segment(stale_name);
    ASSERT_EQ(::symlink(shm_path(live_name).c_str(), link.path().c_str()), 0);
    plant_sized_segment(huge_name, k200TiB);
    plant_sized_segment(huge_matching_name, k200TiB, k200TiB);
    // Opening a FIFO for reading would block until a writer came: it must never be opened.
    ASSERT_EQ(::mkfifo(fifo.path().c_str(), 0600), 0);

    const Outcome text = shmbus_run({"ls"});
    ASSERT_EQ(text.code, cli::kExitOk) << text.err;
    for (const std::string& name : {live_name, stale_name, link_name, huge_name})
        EXPECT_TRUE(contains(text.out, name)) << name << "\n" << text.out;
    EXPECT_TRUE(contains(text.out, "corrupt: symlink")) << text.out;

    const Outcome listed = shmbus_run({"ls", "--json"});
    ASSERT_EQ(listed.code, cli::kExitOk) << listed.err;
    const json ls = json::parse(listed.out);
    ASSERT_NE(find_segment(ls, live_name), nullptr);
    EXPECT_EQ((*find_segment(ls, live_name))["status"], "ok");
    EXPECT_EQ((*find_segment(ls, live_name))["liveness"], "live");
    ASSERT_NE(find_segment(ls, stale_name), nullptr);
    EXPECT_EQ((*find_segment(ls, stale_name))["liveness"], "stale");
    const json* symlink_row = find_segment(ls, link_name);
    ASSERT_NE(symlink_row, nullptr);
    EXPECT_EQ((*symlink_row)["status"], "corrupt");
    EXPECT_EQ((*symlink_row)["problem"], "symlink");
    EXPECT_EQ((*symlink_row)["liveness"], "unknown");
    const json* huge_row = find_segment(ls, huge_name);
    ASSERT_NE(huge_row, nullptr);
    EXPECT_EQ((*huge_row)["status"], "corrupt");
    EXPECT_EQ((*huge_row)["size"], k200TiB);
    EXPECT_EQ((*huge_row)["problem"], "size " + std::to_string(k200TiB) +
                                          " does not match header (" +
                                          std::to_string(std::size_t{4} << 20) + ")");
    // A header that claims the whole 200 TiB passes the size check; whatever mapping it then
    // does (refused on a 47-bit address space), the file is listed.
    EXPECT_NE(find_segment(ls, huge_matching_name), nullptr);
    EXPECT_EQ(find_segment(ls, fifo_name), nullptr);

    const Outcome dry_everything = shmbus_run({"gc", "--dry-run"});
    if (::geteuid() == 0) { // root may remove every stale segment on the host
        EXPECT_EQ(dry_everything.code, cli::kExitOk) << dry_everything.err;
    }
    EXPECT_TRUE(contains(dry_everything.out, "would remove " + stale_name + "\n"))
        << dry_everything.out;
    EXPECT_TRUE(contains(dry_everything.out, "kept " + link_name + ": liveness unknown"))
        << dry_everything.out;

    const Outcome dry = shmbus_run({"gc", "--dry-run", "--prefix", prefix});
    EXPECT_EQ(dry.code, cli::kExitOk) << dry.err;
    EXPECT_TRUE(contains(dry.out, "would remove " + stale_name + "\n")) << dry.out;
    EXPECT_TRUE(contains(dry.out, "kept " + huge_name + ": liveness unknown (corrupt: size"))
        << dry.out;
    EXPECT_TRUE(exists_unfollowed(stale_name));

    const Outcome gc = shmbus_run({"gc", "--prefix", prefix});
    EXPECT_EQ(gc.code, cli::kExitOk) << gc.err;
    EXPECT_TRUE(contains(gc.out, "removed " + stale_name + "\n")) << gc.out;
    EXPECT_FALSE(contains(gc.out, "removed " + link_name)) << gc.out;
    EXPECT_FALSE(exists_unfollowed(stale_name));
    for (const std::string& name : {live_name, link_name, huge_name})
        EXPECT_TRUE(exists_unfollowed(name)) << name;

    // rm never follows the link: without --force it refuses, with it only the link goes.
    const Outcome rm_link = shmbus_run({"rm", link_name});
    EXPECT_EQ(rm_link.code, cli::kExitFailure);
    EXPECT_TRUE(contains(rm_link.err, "symlink")) << rm_link.err;
    EXPECT_EQ(shmbus_run({"rm", "--force", link_name}).code, cli::kExitOk);
    EXPECT_FALSE(exists_unfollowed(link_name));
    EXPECT_NO_THROW(Segment::observe(live_name));
    EXPECT_EQ(shmbus_run({"inspect", huge_name}).code, cli::kExitFailure);
}

// The listing's time with `count` planted files made by `plant`, each checked to be listed
// as corrupt with `problem`.
void expect_quick_listing(int count, const std::function<void(const std::string&)>& plant,
                          const std::string& problem) {
    const std::string prefix = test::unique_name("shmbus-clitest-many") + ".";
    std::deque<PlantedFile> planted;
    for (int i = 0; i < count; ++i) {
        planted.emplace_back(prefix + std::to_string(i));
        plant(prefix + std::to_string(i));
    }
    const auto start = std::chrono::steady_clock::now();
    const Outcome listed = shmbus_run({"ls", "--json"});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(listed.code, cli::kExitOk) << listed.err;
    // Far above the goal (a fraction of a second) and far below the old 200 ms per file.
    EXPECT_LT(elapsed, std::chrono::seconds(5));
    const json ls = json::parse(listed.out);
    for (int i = 0; i < count; ++i) {
        const json* row = find_segment(ls, prefix + std::to_string(i));
        ASSERT_NE(row, nullptr) << i;
        EXPECT_EQ((*row)["status"], "corrupt");
        EXPECT_TRUE(contains((*row)["problem"].get<std::string>(), problem)) << (*row)["problem"];
    }
}

TEST(CliHostileFiles, FiftyTinyFilesWithTheMagicAreListedWithoutWaiting) {
    expect_quick_listing(
        50,
        [](const std::string& name) {
            write_at(shm_path(name), &detail::kSegmentMagic, sizeof detail::kSegmentMagic, 0);
        },
        "size 8 is too small for a shmbus header");
}

TEST(CliHostileFiles, FiftyNeverReadyHeadersShareOneWaitBudget) {
    expect_quick_listing(
        50,
        [](const std::string& name) {
            plant_sized_segment(name, std::size_t{4} << 20);
            const std::uint32_t not_ready = 0;
            write_at(shm_path(name), &not_ready, sizeof not_ready,
                     offsetof(detail::SegmentHeader, ready));
        },
        "not initialised");
}

class CliOtherUser : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root: the test runs the CLI as user nobody in a forked child";
        nobody = ::getpwnam("nobody");
        if (nobody == nullptr)
            GTEST_SKIP() << "no user named nobody on this host";
    }
    const passwd* nobody = nullptr;
};

TEST_F(CliOtherUser, SeesPrivateSegmentsAsUnreadableAndIsToldPermissionDenied) {
    const std::string prefix = test::unique_name("shmbus-clitest-other") + ".";
    const std::string private_name = prefix + "private";
    const std::string shared_name = prefix + "shared";
    const std::string read_only_name = prefix + "read-only";
    UnlinkOnExit unlink_private(private_name);
    UnlinkOnExit unlink_shared(shared_name);
    UnlinkOnExit unlink_read_only(read_only_name);
    { const Segment segment = Segment::create(private_name, std::size_t{4} << 20, 0600); }
    // Readable by others, but observing needs write access too.
    { const Segment segment = Segment::create(read_only_name, std::size_t{4} << 20, 0644); }
    // Readable and writable by all, but /dev/shm's sticky bit lets only root remove it.
    make_stale_segment(shared_name, 0666);

    const Outcome listed = shmbus_run_as(*nobody, {"ls", "--json"});
    ASSERT_EQ(listed.code, cli::kExitOk) << listed.err;
    const json ls = json::parse(listed.out);
    const json* row = find_segment(ls, private_name);
    ASSERT_NE(row, nullptr) << listed.out;
    EXPECT_EQ((*row)["status"], "unreadable");
    EXPECT_EQ((*row)["liveness"], "unknown");
    EXPECT_EQ((*row)["uid"], 0);
    EXPECT_EQ((*row)["owner"], "root");
    EXPECT_EQ((*row)["size"], std::size_t{4} << 20);
    EXPECT_EQ((*row)["mode"], "0600");
    ASSERT_NE(find_segment(ls, shared_name), nullptr);
    EXPECT_EQ((*find_segment(ls, shared_name))["status"], "stale");
    ASSERT_NE(find_segment(ls, read_only_name), nullptr);
    EXPECT_EQ((*find_segment(ls, read_only_name))["status"], "unreadable");
    EXPECT_EQ((*find_segment(ls, read_only_name))["problem"], "permission denied");
    const Outcome text = shmbus_run_as(*nobody, {"ls"});
    EXPECT_TRUE(contains(text.out, "unreadable: permission denied")) << text.out;

    const Outcome rm = shmbus_run_as(*nobody, {"rm", private_name});
    EXPECT_EQ(rm.code, cli::kExitFailure);
    EXPECT_TRUE(contains(rm.err, "permission denied (owner root, mode 0600)")) << rm.err;
    EXPECT_FALSE(contains(rm.err, "magic")) << rm.err;
    const Outcome inspect = shmbus_run_as(*nobody, {"inspect", private_name});
    EXPECT_EQ(inspect.code, cli::kExitFailure);
    EXPECT_TRUE(contains(inspect.err, "permission denied")) << inspect.err;
    const Outcome forced = shmbus_run_as(*nobody, {"rm", "--force", private_name});
    EXPECT_EQ(forced.code, cli::kExitFailure);
    EXPECT_TRUE(contains(forced.err, "permission denied")) << forced.err;

    const Outcome dry = shmbus_run_as(*nobody, {"gc", "--dry-run", "--prefix", prefix});
    EXPECT_EQ(dry.code, cli::kExitFailure);
    EXPECT_TRUE(contains(dry.err, "may not remove " + shared_name + ": permission denied"))
        << dry.err;
    EXPECT_TRUE(contains(dry.out, "kept " + private_name + ": liveness unknown (unreadable"))
        << dry.out;
    const Outcome gc = shmbus_run_as(*nobody, {"gc", "--prefix", prefix});
    EXPECT_EQ(gc.code, cli::kExitFailure);
    EXPECT_TRUE(contains(gc.err, "could not remove " + shared_name + ": permission denied"))
        << gc.err;
    EXPECT_FALSE(contains(gc.out, "no stale segments")) << gc.out;
    EXPECT_TRUE(exists_unfollowed(shared_name));
    EXPECT_TRUE(exists_unfollowed(private_name));
}

TEST(Cli, RmRefusesASegmentWithALiveProcessUnlessForced) {
    const std::string name = test::unique_name("shmbus-clitest-busy");
    UnlinkOnExit unlink(name);
    { const Segment segment = Segment::create(name, std::size_t{4} << 20); }
    Child user = ready_child([&] { new Segment(Segment::open(name)); });

    const Outcome refused = shmbus_run({"rm", name});
    EXPECT_EQ(refused.code, cli::kExitFailure);
    EXPECT_TRUE(contains(refused.err, std::to_string(user.pid()))) << refused.err;
    EXPECT_TRUE(contains(refused.err, "--force")) << refused.err;
    EXPECT_NO_THROW(Segment::observe(name));

    const Outcome forced = shmbus_run({"rm", "--force", name});
    EXPECT_EQ(forced.code, cli::kExitOk) << forced.err;
    EXPECT_THROW(Segment::observe(name), NotFound);
}

TEST(Cli, UsageErrorsExitTwo) {
    EXPECT_EQ(shmbus_run({}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"frobnicate"}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"inspect"}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"ls", "--bogus"}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"watch", "x", "--interval", "abc"}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"inspect", "a/b"}).code, cli::kExitUsage);
    EXPECT_EQ(shmbus_run({"inspect", "no-such-segment-for-cli-tests"}).code, cli::kExitFailure);
}

TEST(Cli, HelpDocumentsCommandsAndExamples) {
    const Outcome help = shmbus_run({"--help"});
    EXPECT_EQ(help.code, cli::kExitOk);
    for (const char* word : {"ls", "inspect", "watch", "rm", "gc", "EXAMPLES", "EXIT STATUS"})
        EXPECT_NE(help.out.find(word), std::string::npos) << word;
    const Outcome sub = shmbus_run({"watch", "--help"});
    EXPECT_EQ(sub.code, cli::kExitOk);
    EXPECT_NE(sub.out.find("--interval"), std::string::npos);
}

// Sets an environment variable for one scope and restores what was there.
class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name))
            m_old = old;
        ::setenv(name, value, 1);
    }
    ~ScopedEnvironment() {
        if (m_old)
            ::setenv(m_name, m_old->c_str(), 1);
        else
            ::unsetenv(m_name);
    }
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

std::string own_comm() {
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);)
        lines.push_back(line);
    return lines;
}

TEST(CliHabits, SegmentNamesMayBeSpelledAsPaths) {
    ScopedSegment segment;
    for (const std::string& spelling :
         {segment.name(), "/" + segment.name(), shm_path(segment.name())}) {
        const Outcome inspect = shmbus_run({"inspect", spelling});
        EXPECT_EQ(inspect.code, cli::kExitOk) << spelling << ": " << inspect.err;
        EXPECT_TRUE(contains(inspect.out, "segment " + segment.name())) << inspect.out;
        EXPECT_EQ(shmbus_run({"watch", spelling, "--count", "1"}).code, cli::kExitOk) << spelling;
    }
    for (const char* bad : {"/dev/shm/a/b", "/a/b", "dev/shm/x", "/dev/shm/", "/"})
        EXPECT_EQ(shmbus_run({"inspect", bad}).code, cli::kExitUsage) << bad;

    const std::string name = test::unique_name("shmbus-clitest-rmpath");
    UnlinkOnExit unlink(name);
    { const Segment created = Segment::create(name, std::size_t{4} << 20); }
    EXPECT_EQ(shmbus_run({"rm", shm_path(name)}).code, cli::kExitOk);
    EXPECT_THROW(Segment::observe(name), NotFound);
}

TEST(CliHabits, TerminalWidthComesFromColumns) {
    {
        ScopedEnvironment columns("COLUMNS", "123");
        EXPECT_EQ(cli::terminal_width(), 123U);
    }
    ScopedEnvironment columns("COLUMNS", "not-a-number");
    // The tests' stdout may or may not be a terminal; either way the width is positive.
    EXPECT_GT(cli::terminal_width(), 0U);
}

TEST(CliHabits, LongProcessListsAreCutToTheWidthWithACount) {
    ScopedSegment segment;
    std::deque<Child> users;
    for (int i = 0; i < 40; ++i)
        users.push_back(ready_child([&] { new Segment(Segment::open(segment.name())); }));

    // Alone in the table, its line fits in 100 columns exactly as `ls` lays it out (the host's
    // other segments, with their own names and reasons, would set other column widths).
    const std::string alone =
        cli::format_ls(cli::list_segments(cli::kShmDirectory, segment.name()), 100);
    for (const std::string& line : lines_of(alone))
        EXPECT_LE(line.size(), 100U) << line;
    EXPECT_TRUE(contains(alone, " more  ok\n")) << alone;

    ScopedEnvironment columns("COLUMNS", "100");
    const Outcome ls = shmbus_run({"ls"});
    ASSERT_EQ(ls.code, cli::kExitOk) << ls.err;
    bool found = false;
    for (const std::string& line : lines_of(ls.out))
        if (line.starts_with(segment.name() + " ")) {
            found = true;
            // Padded when a concurrent test's segment has a wider PROCESSES cell.
            EXPECT_TRUE(contains(line, " more ") && line.ends_with(" ok")) << line;
        }
    EXPECT_TRUE(found) << ls.out;

    // The full list stays in --json and in inspect.
    const json ls_json = json::parse(shmbus_run({"ls", "--json"}).out);
    const json* listed = find_segment(ls_json, segment.name());
    ASSERT_NE(listed, nullptr);
    EXPECT_EQ((*listed)["processes"].size(), segment->processes().size());
    EXPECT_GT((*listed)["processes"].size(), users.size());
    const std::string watch = shmbus_run({"watch", segment.name(), "--count", "1"}).out;
    EXPECT_LE(lines_of(watch).at(0).size(), 100U) << watch;
    EXPECT_TRUE(contains(lines_of(watch).at(0), " more")) << watch;
    const std::string inspect = shmbus_run({"inspect", segment.name()}).out;
    for (const Child& user : users)
        EXPECT_TRUE(contains(inspect, std::to_string(user.pid()) + " ")) << user.pid();
}

TEST(CliHabits, ProcessListsFitTheWidthTheyAreGiven) {
    cli::SegmentSummary summary;
    summary.name = "narrow";
    summary.status = cli::SegmentStatus::ok;
    for (std::int32_t pid = 100000; pid < 100040; ++pid)
        summary.processes.push_back({pid, 0, true, "worker"});
    const std::string text = cli::format_ls({summary}, 90);
    for (const std::string& line : lines_of(text))
        EXPECT_LE(line.size(), 90U) << line;
    EXPECT_TRUE(contains(text, "  100000 worker, 100001 worker +38 more  ok\n")) << text;
    // Too narrow for even that: the first process's pid still shows, and the status is never
    // cut.
    EXPECT_TRUE(contains(cli::format_ls({summary}, 40), "  100000 +39 more  ok\n"));
}

TEST(CliHabits, ProcessNamesAreShownNextToPids) {
    ScopedSegment segment;
    const std::string comm = own_comm();
    ASSERT_FALSE(comm.empty());
    const std::string pid = std::to_string(::getpid());

    EXPECT_TRUE(contains(shmbus_run({"inspect", segment.name()}).out, pid + " " + comm));
    ScopedEnvironment columns("COLUMNS", "400");
    EXPECT_TRUE(contains(shmbus_run({"ls"}).out, pid + " " + comm));
    const json ls_json = json::parse(shmbus_run({"ls", "--json"}).out);
    const json* listed = find_segment(ls_json, segment.name());
    ASSERT_NE(listed, nullptr);
    ASSERT_EQ((*listed)["processes"].size(), 1U);
    EXPECT_EQ((*listed)["processes"][0]["comm"], comm);

    // A dead process's pid may name another process by now: no name is claimed for it.
    const std::string stale_name = test::unique_name("shmbus-clitest-comm");
    UnlinkOnExit unlink(stale_name);
    make_stale_segment(stale_name);
    const json inspect = json::parse(shmbus_run({"inspect", stale_name, "--json"}).out);
    EXPECT_EQ(inspect["segment"]["processes"][0]["comm"], "");
}

TEST(CliHabits, RmJsonReportsRemovedAndFailed) {
    const std::string name = test::unique_name("shmbus-clitest-rmjson");
    UnlinkOnExit unlink(name);
    { const Segment segment = Segment::create(name, std::size_t{4} << 20); }

    const Outcome removed = shmbus_run({"rm", "--json", name});
    EXPECT_EQ(removed.code, cli::kExitOk) << removed.err;
    const json done = json::parse(removed.out);
    EXPECT_EQ(done["schema"], "shmbus.rm");
    EXPECT_EQ(done["version"], cli::kSchemaVersion);
    EXPECT_EQ(done["removed"], json::array({name}));
    EXPECT_EQ(done["failed"], json::array());

    const Outcome missing = shmbus_run({"rm", "--json", name});
    EXPECT_EQ(missing.code, cli::kExitFailure);
    const json refused = json::parse(missing.out);
    EXPECT_EQ(refused["removed"], json::array());
    ASSERT_EQ(refused["failed"].size(), 1U);
    EXPECT_EQ(refused["failed"][0]["name"], name);
    EXPECT_TRUE(contains(refused["failed"][0]["reason"].get<std::string>(), "no such segment"));

    const Outcome invalid = shmbus_run({"rm", "--json", "a/b"});
    EXPECT_EQ(invalid.code, cli::kExitUsage);
    EXPECT_EQ(json::parse(invalid.out)["failed"].size(), 1U);
}

TEST(CliHabits, GcJsonReportsRemovedKeptAndFailed) {
    const std::string prefix = test::unique_name("shmbus-clitest-gcjson");
    const std::string stale_name = prefix + "-stale";
    const std::string damaged_name = prefix + "-damaged";
    UnlinkOnExit unlink_stale(stale_name);
    UnlinkOnExit unlink_damaged(damaged_name);
    make_stale_segment(stale_name);
    std::vector<unsigned char> bytes = random_bytes(detail::kMinSegmentSize);
    std::memcpy(bytes.data(), &detail::kSegmentMagic, sizeof detail::kSegmentMagic);
    write_raw_segment(damaged_name, bytes);

    const Outcome dry = shmbus_run({"gc", "--dry-run", "--json", "--prefix", prefix});
    EXPECT_EQ(dry.code, cli::kExitOk) << dry.err;
    const json planned = json::parse(dry.out);
    EXPECT_EQ(planned["schema"], "shmbus.gc");
    EXPECT_EQ(planned["dry_run"], true);
    EXPECT_EQ(planned["removed"], json::array({stale_name}));
    EXPECT_NO_THROW(Segment::observe(stale_name));

    const Outcome gc = shmbus_run({"gc", "--json", "--prefix", prefix});
    EXPECT_EQ(gc.code, cli::kExitOk) << gc.err;
    const json collected = json::parse(gc.out);
    EXPECT_EQ(collected["version"], cli::kSchemaVersion);
    EXPECT_EQ(collected["dry_run"], false);
    EXPECT_EQ(collected["removed"], json::array({stale_name}));
    EXPECT_EQ(collected["failed"], json::array());
    ASSERT_EQ(collected["kept"].size(), 1U);
    EXPECT_EQ(collected["kept"][0]["name"], damaged_name);
    EXPECT_EQ(collected["kept"][0]["status"], "corrupt");
    EXPECT_TRUE(collected["kept"][0]["reason"].is_string());
    EXPECT_THROW(Segment::observe(stale_name), NotFound);
}

TEST(CliHabits, HelpListsExitCodesAndWrapsDescriptions) {
    const Outcome help = shmbus_run({"--help"});
    EXPECT_EQ(help.code, cli::kExitOk);
    for (const char* line : {"\n  0  success", "\n  1  failure", "\n  2  usage error"})
        EXPECT_TRUE(contains(help.out, line)) << line;
    for (const char* command : {"ls", "inspect", "watch", "rm", "gc", "bench", "footprint"}) {
        const Outcome sub = shmbus_run({command, "--help"});
        EXPECT_EQ(sub.code, cli::kExitOk) << command;
        for (const std::string& line : lines_of(sub.out))
            EXPECT_LE(line.size(), 100U) << command << ": " << line;
    }
    const std::string inspect = shmbus_run({"inspect", "--help"}).out;
    for (const char* kind :
         {"Lock", "RLock", "Semaphore", "BoundedSemaphore", "Event", "Condition", "Barrier",
          "Value", "Array", "Queue", "JoinableQueue", "Pipe", "Dict", "List", "Pool"})
        EXPECT_TRUE(contains(inspect, kind)) << kind;
}

// Every kind of object is made with its defaults; every size is positive, and no scratch segment
// is left in /dev/shm.
TEST(CliFootprint, ListsEveryKindWithPositiveSizesAndLeavesNothingBehind) {
    const Outcome outcome = shmbus_run({"footprint", "--json"});
    ASSERT_EQ(outcome.code, cli::kExitOk) << outcome.err;
    const json document = json::parse(outcome.out);
    EXPECT_EQ(document["schema"], "shmbus.footprint");
    EXPECT_GT(document["segment_tables"].get<std::uint64_t>(), 0U);
    std::set<std::string> kinds;
    for (const json& object : document["objects"]) {
        EXPECT_GT(object["bytes"].get<std::uint64_t>(), 0U) << object.dump();
        std::uint64_t sum = 0;
        for (const json& entry : object["entries"]) {
            EXPECT_GT(entry["size"].get<std::uint64_t>(), 0U) << object.dump();
            sum += entry["size"].get<std::uint64_t>();
            kinds.insert(entry["kind"].get<std::string>());
        }
        EXPECT_EQ(sum, object["bytes"].get<std::uint64_t>()) << object.dump();
    }
    for (std::uint32_t kind = 1; kind <= static_cast<std::uint32_t>(ObjectKind::topic); ++kind) {
        const std::string name(to_string(static_cast<ObjectKind>(kind)));
        EXPECT_TRUE(kinds.contains(name)) << name;
    }
    const std::string scratch = "shmbus.footprint." + std::to_string(::getpid()) + ".";
    for (const auto& file : std::filesystem::directory_iterator(cli::kShmDirectory))
        EXPECT_FALSE(file.path().filename().string().starts_with(scratch)) << file.path();
    EXPECT_TRUE(contains(shmbus_run({"footprint"}).out, "Queue<int>"));
}

} // namespace
} // namespace shmbus
