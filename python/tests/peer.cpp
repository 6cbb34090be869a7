// SPDX-License-Identifier: Apache-2.0
// The C++ side of the Python tests (python/tests/test_*.py) and of the Python bench
// (tools/bench/python_shmbus.py): opens the objects a Python process made in segment argv[1]
// and plays one part, named by argv[2] (the topic-* parts are in peer_topics.cpp). Exit status 0
// when every check held; otherwise a message on stderr and status 1.
#include "peer.hpp"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <shmbus/array.hpp>
#include <shmbus/barrier.hpp>
#include <shmbus/condition.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/value.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace shmbus::peer;
using shmbus::MsgpackBytes;
using shmbus::MsgpackCodec;
using shmbus::Segment;

template <class T>
using Queue = shmbus::Queue<T, MsgpackCodec>;

// Decodes every message of `in` and encodes it again into `out`, until a nil: a round trip
// through msgpack-cxx's own representation.
void echo(const Segment& segment, const std::string& in, const std::string& out) {
    auto from = Queue<MsgpackBytes>::open(segment, in);
    auto to = Queue<MsgpackBytes>::open(segment, out);
    for (;;) {
        const MsgpackBytes message = from.get();
        if (is_nil(message))
            return;
        const msgpack::object_handle value = MsgpackCodec::unpack(message.bytes);
        shmbus::detail::ByteBuffer buffer;
        MsgpackCodec::encode(value.get(), buffer);
        to.put(MsgpackBytes{{buffer.bytes().begin(), buffer.bytes().end()}});
    }
}

// Forwards every message of `in` to `out` unread, until a nil (tools/bench/python_shmbus.py).
void relay(const Segment& segment, const std::string& in, const std::string& out) {
    auto from = Queue<MsgpackBytes>::open(segment, in);
    auto to = Queue<MsgpackBytes>::open(segment, out);
    for (MsgpackBytes message = from.get(); !is_nil(message); message = from.get())
        to.put(message);
}

// Takes messages from `in` until a nil, then puts a nil into `out` (the bench's throughput).
void drain(const Segment& segment, const std::string& in, const std::string& out) {
    auto from = Queue<MsgpackBytes>::open(segment, in);
    while (!is_nil(from.get())) {
    }
    Queue<MsgpackBytes>::open(segment, out).put(MsgpackBytes{{std::byte{0xc0}}});
}

// One value of each kind, as C++ types.
void send_typed(const Segment& segment, const std::string& name) {
    Queue<int>::open(segment, name).put(-42);
    Queue<double>::open(segment, name).put(0.25);
    Queue<std::string>::open(segment, name).put("héllo");
    Queue<std::vector<std::byte>>::open(segment, name).put(kBytes);
    Queue<std::vector<int>>::open(segment, name).put({1, 2, 3});
    Queue<Table>::open(segment, name).put(kTable);
    Queue<Order>::open(segment, name).put(kOrder);
    Queue<bool>::open(segment, name).put(true);
}

// The values send_typed sends, as Python sent them.
void expect_typed(const Segment& segment, const std::string& name) {
    expect_equal(Queue<int>::open(segment, name).get(), -42, "int");
    expect_equal(Queue<double>::open(segment, name).get(), 0.25, "float");
    expect_equal(Queue<std::string>::open(segment, name).get(), std::string("héllo"), "str");
    expect_equal(Queue<std::vector<std::byte>>::open(segment, name).get(), kBytes, "bytes");
    expect_equal(Queue<std::vector<int>>::open(segment, name).get(), {1, 2, 3}, "list");
    expect_equal(Queue<Table>::open(segment, name).get(), kTable, "dict");
    expect_equal(Queue<Order>::open(segment, name).get(), kOrder, "Order");
    expect_equal(Queue<bool>::open(segment, name).get(), true, "bool");
}

// Takes integers until a nil; prints "<count> <sum> <sum of squares mod 2^64>".
void consume(const Segment& segment, const std::string& name) {
    auto queue = Queue<MsgpackBytes>::open(segment, name);
    std::uint64_t count = 0, sum = 0, squares = 0;
    for (;;) {
        const MsgpackBytes message = queue.get();
        if (is_nil(message))
            break;
        const auto value = MsgpackCodec::decode<std::uint64_t>(message.bytes);
        ++count;
        sum += value;
        squares += value * value;
    }
    std::cout << count << ' ' << sum << ' ' << squares << std::endl;
}

// Works on the synchronisation objects and shared values Python made (test_sync_values.py).
void sync_and_values(const Segment& segment) {
    auto counter = shmbus::Value<std::int32_t>::open(segment, "counter");
    for (int i = 0; i < 1000; ++i) {
        std::lock_guard guard(counter.get_lock());
        counter.store(counter.load() + 1);
    }
    shmbus::Value<double>::open(segment, "ratio").store(2.5);
    auto squares = shmbus::Array<std::int64_t>::open(segment, "squares");
    for (std::size_t i = 0; i < squares.size(); ++i)
        squares.store(i, static_cast<std::int64_t>(i * i));
    expect_equal(shmbus::Array<double>::open(segment, "given").to_vector(), {0.5, 1.5, -2.0},
                 "Array('d') from Python");
    auto lock = shmbus::Lock::open(segment, "lock");
    lock.acquire();
    lock.release();
    shmbus::Semaphore::open(segment, "slots").release(2);
    shmbus::Event::open(segment, "go").wait();
    shmbus::Event::open(segment, "done").set();
}

// Adds 1 `times` times to the Value "count", element 0 of the Array "tally" (their own RLocks)
// and the Value "ledgered" (guarded by the Lock "ledger"), each under its lock, as Python's
// `with v: v.value += 1` (test_with_value.py): no increment may be lost. Starts when the Event
// "go" is set (after releasing the Semaphore "ready"), with the Python processes.
void locked_increments(const Segment& segment, int times) {
    auto count = shmbus::Value<std::int32_t>::open(segment, "count");
    auto tally = shmbus::Array<std::int64_t>::open(segment, "tally");
    auto ledgered = shmbus::Value<std::int32_t, shmbus::Lock>::open(
        segment, "ledgered", shmbus::Lock::open(segment, "ledger"));
    shmbus::Semaphore::open(segment, "ready").release();
    shmbus::Event::open(segment, "go").wait();
    for (int i = 0; i < times; ++i) {
        {
            std::lock_guard guard(count.get_lock());
            count.store(count.load() + 1);
        }
        {
            std::lock_guard guard(tally.get_lock());
            tally.store(0, tally.load(0) + 1);
        }
        std::lock_guard guard(ledgered.get_lock());
        ledgered.store(ledgered.load() + 1);
    }
}

// Reads the 'c', 'u' and '?' Values and Arrays Python made (test_typecodes.py) and writes new
// elements into each; none opens as the integer of its size.
void chars_and_bools(const Segment& segment) {
    auto c = shmbus::Value<char>::open(segment, "c");
    expect_equal(c.load(), 'x', "Value('c')");
    c.store('y');
    auto u = shmbus::Value<wchar_t>::open(segment, "u");
    expect_equal(u.load(), L'\u00e9', "Value('u')");
    u.store(L'\u20ac');
    auto flag = shmbus::Value<bool>::open(segment, "flag");
    expect_equal(flag.load(), true, "Value('?')");
    flag.store(false);
    auto chars = shmbus::Array<char>::open(segment, "chars");
    expect_equal(chars.value(), std::string("hello"), "Array('c')");
    chars.set_value("c++");
    auto wide = shmbus::Array<wchar_t>::open(segment, "wide");
    expect_equal(wide.to_vector(), {L'a', L'\u00e9', L'c'}, "Array('u')");
    wide.store(0, L'z');
    auto bits = shmbus::Array<bool>::open(segment, "bits");
    expect_equal(bits.to_vector(), {true, false, true}, "Array('?')");
    bits.store(1, true);
    expect_kind_mismatch([&] { shmbus::Value<std::int8_t>::open(segment, "c"); },
                         "Value<int8_t> of 'c'");
    expect_kind_mismatch([&] { shmbus::Value<std::int32_t>::open(segment, "u"); },
                         "Value<int32_t> of 'u'");
    expect_kind_mismatch([&] { shmbus::Value<std::uint8_t>::open(segment, "flag"); },
                         "Value<uint8_t> of '?'");
}

// Opening Python's objects with the wrong codec or type fails as KindMismatch.
void wrong_kinds(const Segment& segment) {
    expect_kind_mismatch([&] { shmbus::Queue<int>::open(segment, "packed"); },
                         "a cereal Queue<int>");
    expect_kind_mismatch([&] { shmbus::JoinableQueue<int, MsgpackCodec>::open(segment, "packed"); },
                         "a JoinableQueue");
    expect_kind_mismatch([&] { shmbus::Value<double>::open(segment, "int32"); },
                         "Value<double> of 'i'");
    expect_kind_mismatch([&] { shmbus::Value<std::int64_t>::open(segment, "int32"); },
                         "Value<int64_t>");
}

// Reads and extends the Manager dict and list Python made (test_manager.py).
void manager(const Segment& segment) {
    auto scores = shmbus::Dict<std::int64_t, MsgpackCodec>::open(segment, "scores");
    expect_equal(scores.get("python"), std::int64_t{7}, "dict entry");
    scores.set("c++", 9);
    auto names = shmbus::List<std::string, MsgpackCodec>::open(segment, "names");
    expect_equal(names.to_vector(), {"a", "b"}, "list");
    names.append("from c++");
}

// Meets Python at Barrier "meet", then sets Value "flag" and notifies Condition "changed".
void barrier_and_condition(const Segment& segment) {
    shmbus::Barrier::open(segment, "meet", 2).wait();
    auto changed = shmbus::Condition::open(segment, "changed");
    std::lock_guard hold(changed);
    shmbus::Value<std::int32_t>::open(segment, "flag").store(1);
    changed.notify_all();
}

// Works through Python's JoinableQueue "jobs" (task_done for each, a nil ends it; its results go
// to SimpleQueue "results"), holding RLock "r" twice over and BoundedSemaphore "b" meanwhile.
void joinable_worker(const Segment& segment) {
    auto recursive = shmbus::RLock::open(segment, "r");
    std::lock_guard outer(recursive);
    std::lock_guard inner(recursive);
    auto bounded = shmbus::BoundedSemaphore::open(segment, "b");
    std::lock_guard slot(bounded);
    auto jobs =
        shmbus::JoinableQueue<std::optional<std::string>, MsgpackCodec>::open(segment, "jobs");
    shmbus::SimpleQueue<std::string, MsgpackCodec> results(segment, "results");
    while (const auto job = jobs.get()) {
        results.put(*job + " done");
        jobs.task_done();
    }
    jobs.task_done();
}

template <class T>
void send_packed(shmbus::Connection& connection, const T& value) {
    shmbus::detail::ByteBuffer buffer;
    MsgpackCodec::encode(value, buffer);
    connection.send_bytes(buffer.bytes());
}

template <class T>
T recv_packed(shmbus::Connection& connection) {
    const std::vector<std::byte> message = connection.recv_bytes();
    return MsgpackCodec::decode<T>(message);
}

std::vector<std::byte> reversed(std::vector<std::byte> bytes) {
    return {bytes.rbegin(), bytes.rend()};
}

// Opens end 1 of the pipe Python made (test_pipe_named.py): says "ready", expects an Order and
// answers the Table, reverses one raw message, then echoes msgpack values through msgpack-cxx
// until a nil, and closes its end.
void pipe_opener(const Segment& segment, const std::string& name) {
    auto end = shmbus::Connection::open(segment, name, 1);
    send_packed(end, std::string("ready"));
    expect_equal(recv_packed<Order>(end), kOrder, "Order through the pipe");
    send_packed(end, kTable);
    end.send_bytes(reversed(end.recv_bytes()));
    for (;;) {
        const std::vector<std::byte> message = end.recv_bytes();
        const msgpack::object_handle value = MsgpackCodec::unpack(message);
        if (value.get().is_nil())
            break;
        send_packed(end, value.get());
    }
    end.close();
}

// Makes pipe `name` for Python to open end 1 of: sends an Order and raw bytes, expects the
// Table and the bytes reversed, then closes its copy of end 1 and reads until Python closes
// its end.
void pipe_creator(const Segment& segment, const std::string& name) {
    auto [mine, theirs] = shmbus::Pipe(segment, name);
    send_packed(mine, kOrder);
    mine.send_bytes(kBytes);
    expect_equal(recv_packed<Table>(mine), kTable, "Table through the pipe");
    expect_equal(mine.recv_bytes(), reversed(kBytes), "reversed bytes");
    theirs.close(); // Python holds end 1 now
    try {
        (void)mine.recv_bytes();
    } catch (const shmbus::EndOfStream&) {
        return;
    }
    throw CheckFailed{"a message after the last one"};
}

// Makes a cereal queue for Python to fail to open.
void make_cereal_queue(const Segment& segment, const std::string& name) {
    shmbus::Queue<int>::create(segment, name).put(1);
}

int run(const std::vector<std::string>& args) {
    const Segment segment = Segment::open(args.at(1));
    const std::string& part = args.at(2);
    if (part == "echo")
        echo(segment, args.at(3), args.at(4));
    else if (part == "relay")
        relay(segment, args.at(3), args.at(4));
    else if (part == "drain")
        drain(segment, args.at(3), args.at(4));
    else if (part == "send-typed")
        send_typed(segment, args.at(3));
    else if (part == "expect-typed")
        expect_typed(segment, args.at(3));
    else if (part == "consume")
        consume(segment, args.at(3));
    else if (part == "sync-and-values")
        sync_and_values(segment);
    else if (part == "locked-increments")
        locked_increments(segment, std::stoi(args.at(3)));
    else if (part == "chars-and-bools")
        chars_and_bools(segment);
    else if (part == "wrong-kinds")
        wrong_kinds(segment);
    else if (part == "manager")
        manager(segment);
    else if (part == "barrier-and-condition")
        barrier_and_condition(segment);
    else if (part == "joinable-worker")
        joinable_worker(segment);
    else if (part == "pipe-opener")
        pipe_opener(segment, args.at(3));
    else if (part == "pipe-creator")
        pipe_creator(segment, args.at(3));
    else if (part == "make-cereal-queue")
        make_cereal_queue(segment, args.at(3));
    else if (part.starts_with("topic-"))
        run_topic_part(segment, part, args);
    else
        throw CheckFailed{"no part named " + part};
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv, argv + argc));
    } catch (const CheckFailed& failed) {
        std::cerr << "peer: " << failed.what << '\n';
    } catch (const std::exception& e) {
        std::cerr << "peer: " << e.what() << '\n';
    }
    return 1;
}
