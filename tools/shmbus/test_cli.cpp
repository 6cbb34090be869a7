// The shmbus CLI against real segments: primitives held by this process and by forked children,
// a creator killed with SIGKILL (stale), foreign and damaged files, usage errors. Commands run
// in-process through cli::run, so output and exit codes are checked without spawning.
#include "cli.hpp"
#include "detail/layout.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <csignal>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <shmbus/barrier.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/pool.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/value.hpp>
#include <sstream>
#include <unistd.h>

namespace shmbus {
namespace {

namespace bip = boost::interprocess;
using nlohmann::json;
using test::Child;
using test::ScopedSegment;
using test::UnlinkOnExit;

struct Outcome {
    int code;
    std::string out;
    std::string err;
};

Outcome shmbus_run(std::vector<std::string> args) {
    args.insert(args.begin(), "shmbus");
    std::vector<const char*> argv;
    for (const std::string& arg : args)
        argv.push_back(arg.c_str());
    std::ostringstream out;
    std::ostringstream err;
    const int code = cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

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
    EXPECT_EQ(jobs.state["maxsize"], 8);
    EXPECT_EQ(jobs.state["closed"], false);
    EXPECT_EQ(jobs.state["messages_lost"], 0);
    EXPECT_TRUE(jobs.state["unfinished_tasks"].is_null());
    EXPECT_EQ(find_object(report, "tasks").state["unfinished_tasks"], 1);
    const cli::ObjectReport& waiting = find_object(report, "idle");
    EXPECT_GE(waiting.state["parks"], 1);
    EXPECT_NE(waiting.summary.find("1 reader parked"), std::string::npos) << waiting.summary;

    idle.put(7);
    EXPECT_EQ(getter.wait(), 0);
    EXPECT_GE(find_object(cli::inspect_segment(segment.name()), "idle").state["wakes"], 1);
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

TEST(Cli, WatchReportsMessageRatesBetweenRefreshes) {
    ScopedSegment segment;
    Queue<int> queue(*segment, "flow", QueueOptions{.max_message_size = 1024});
    Event stop(*segment, "stop");
    Child producer([&] {
        for (int i = 0; !stop.is_set() && i < 50'000'000; ++i) {
            queue.try_put(i);
            queue.try_get();
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
    // gc leaves corrupt segments alone: only stale ones are known to be abandoned.
    EXPECT_EQ(shmbus_run({"gc", "--prefix", name}).out, "no stale segments\n");
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

} // namespace
} // namespace shmbus
