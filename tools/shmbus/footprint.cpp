// SPDX-License-Identifier: Apache-2.0
#include "footprint.hpp"

#include "cli.hpp"
#include "shmbus/shmbus.hpp"

#include <functional>
#include <ostream>
#include <sys/stat.h>
#include <unistd.h>

namespace shmbus::cli {
namespace {

// Sparse, so its size costs address space only; it must hold the largest object with defaults.
constexpr std::size_t kScratchSize = std::size_t{64} << 20;
constexpr unsigned kBarrierParties = 2;
constexpr std::size_t kArrayLength = 1000;
constexpr std::size_t kSmallQueueMaxsize = 1000;
constexpr std::size_t kSmallQueueMessage = 4096;
constexpr std::size_t kBoundedQueueMaxsize = 16;

using Make = std::function<void(const Segment&)>;

std::string scratch_name() {
    static int made = 0;
    return "shmbus.footprint." + std::to_string(::getpid()) + "." + std::to_string(++made);
}

std::uint64_t allocated_bytes(const std::string& segment_name) {
    struct stat status {};
    if (::stat((std::string(kShmDirectory) + "/" + segment_name).c_str(), &status) != 0)
        return 0;
    return static_cast<std::uint64_t>(status.st_blocks) * 512;
}

std::vector<FootprintEntry> entries_of(const std::vector<ObjectInfo>& objects) {
    std::vector<FootprintEntry> entries;
    for (const ObjectInfo& object : objects)
        entries.push_back({object.name, std::string(to_string(object.kind)), object.size});
    return entries;
}

FootprintRow row_of(std::string object, std::string options, std::vector<FootprintEntry> entries) {
    FootprintRow row{std::move(object), std::move(options), 0, std::move(entries)};
    for (const FootprintEntry& entry : row.entries)
        row.bytes += entry.size;
    return row;
}

// A fresh segment whose name is gone at once, so that nothing is left behind whatever happens.
Segment scratch_segment(std::uint64_t* tables = nullptr) {
    const std::string name = scratch_name();
    Segment segment = Segment::create(name, kScratchSize);
    if (tables != nullptr)
        *tables = allocated_bytes(name);
    Segment::unlink(name);
    return segment;
}

FootprintRow measure(std::string object, std::string options, const Make& make) {
    const Segment segment = scratch_segment();
    make(segment);
    return row_of(std::move(object), std::move(options), entries_of(segment.objects()));
}

// A Pool makes (and removes) a segment of its own, with its workers attached.
FootprintRow measure_pool(unsigned processes) {
    PoolOptions options;
    options.processes = processes;
    options.segment_name = scratch_name();
    Pool pool(options);
    const Segment segment = Segment::open(pool.segment_name());
    const std::string text = "processes " + std::to_string(processes) + ", max_message_size " +
                             human_size(options.max_message_size) + "; a segment of its own";
    return row_of("Pool", text, entries_of(segment.objects()));
}

std::string queue_defaults() {
    const QueueOptions defaults;
    return "maxsize " + std::to_string(defaults.maxsize) + " (unbounded), max_message_size " +
           human_size(defaults.max_message_size) + ", capacity_bytes auto";
}

std::string topic_defaults() {
    const TopicOptions defaults;
    return "capacity " + std::to_string(defaults.capacity) + ", max_message_size " +
           human_size(defaults.max_message_size) + ", " + std::to_string(defaults.max_publishers) +
           " publishers, " + std::to_string(defaults.max_subscribers) + " subscribers";
}

std::string container_defaults() {
    const ContainerOptions defaults;
    return "capacity_bytes " + human_size(defaults.capacity_bytes) + ", max_entries auto";
}

std::vector<FootprintRow> sync_rows() {
    return {
        measure("Lock", "-", [](const Segment& s) { Lock(s, "lock"); }),
        measure("RLock", "-", [](const Segment& s) { RLock(s, "rlock"); }),
        measure("Semaphore", "value 1", [](const Segment& s) { Semaphore(s, "semaphore"); }),
        measure("BoundedSemaphore", "value 1",
                [](const Segment& s) { BoundedSemaphore(s, "bounded"); }),
        measure("Event", "-", [](const Segment& s) { Event(s, "event"); }),
        measure("Condition", "its own RLock", [](const Segment& s) { Condition(s, "condition"); }),
        measure("Barrier", "parties " + std::to_string(kBarrierParties),
                [](const Segment& s) { Barrier(s, "barrier", kBarrierParties); }),
    };
}

std::vector<FootprintRow> data_rows() {
    return {
        measure("Value<int>", "with its RLock", [](const Segment& s) { Value<int>(s, "value"); }),
        measure("Array<int>", "length " + std::to_string(kArrayLength) + ", with its RLock",
                [](const Segment& s) { Array<int>(s, "array", kArrayLength); }),
        measure("Dict<int>", container_defaults(), [](const Segment& s) { Dict<int>(s, "dict"); }),
        measure("List<int>", container_defaults(), [](const Segment& s) { List<int>(s, "list"); }),
    };
}

std::vector<FootprintRow> messaging_rows() {
    const PipeOptions pipe;
    const std::string pipe_text = "capacity_bytes " + human_size(pipe.capacity_bytes) +
                                  " per direction, max_message_size " +
                                  human_size(pipe.max_message_size);
    return {
        measure("Queue<int>", queue_defaults(), [](const Segment& s) { Queue<int>(s, "queue"); }),
        measure(
            "Queue<int>", "maxsize " + std::to_string(kBoundedQueueMaxsize) + ", other defaults",
            [](const Segment& s) { Queue<int>(s, "queue", {.maxsize = kBoundedQueueMaxsize}); }),
        measure("Queue<int>",
                "maxsize " + std::to_string(kSmallQueueMaxsize) + ", max_message_size " +
                    human_size(kSmallQueueMessage),
                [](const Segment& s) {
                    Queue<int>(
                        s, "queue",
                        {.maxsize = kSmallQueueMaxsize, .max_message_size = kSmallQueueMessage});
                }),
        measure("SimpleQueue<int>", queue_defaults(),
                [](const Segment& s) { SimpleQueue<int>(s, "simple"); }),
        measure("JoinableQueue<int>", queue_defaults(),
                [](const Segment& s) { JoinableQueue<int>(s, "joinable"); }),
        measure("Pipe", "duplex, " + pipe_text, [](const Segment& s) { Pipe(s, true); }),
        measure("Pipe", "one-way, " + pipe_text, [](const Segment& s) { Pipe(s, false); }),
        measure("Topic<int>", topic_defaults(), [](const Segment& s) { Topic<int>(s, "topic"); }),
    };
}

} // namespace

FootprintReport measure_footprint() {
    FootprintReport report;
    scratch_segment(&report.segment_tables);
    report.rows = sync_rows();
    for (std::vector<FootprintRow> rows : {data_rows(), messaging_rows()})
        report.rows.insert(report.rows.end(), rows.begin(), rows.end());
    report.rows.push_back(measure_pool(1));
    report.rows.push_back(measure_pool(2));
    return report;
}

std::string format_footprint(const FootprintReport& report) {
    std::vector<std::vector<std::string>> rows{{"OBJECT", "OPTIONS", "BYTES", "", "ENTRIES"}};
    for (const FootprintRow& row : report.rows) {
        std::string entries;
        for (const FootprintEntry& entry : row.entries)
            entries +=
                (entries.empty() ? "" : ", ") + entry.kind + " " + std::to_string(entry.size);
        rows.push_back(
            {row.object, row.options, std::to_string(row.bytes), human_size(row.bytes), entries});
    }
    return "Every segment takes " + std::to_string(report.segment_tables) + " bytes (" +
           human_size(report.segment_tables) +
           ") of /dev/shm for its tables;\neach object then takes its directory entries "
           "(companion locks included):\n" +
           table(rows);
}

nlohmann::json footprint_json(const FootprintReport& report) {
    nlohmann::json rows = nlohmann::json::array();
    for (const FootprintRow& row : report.rows) {
        nlohmann::json entries = nlohmann::json::array();
        for (const FootprintEntry& entry : row.entries)
            entries.push_back({{"name", entry.name}, {"kind", entry.kind}, {"size", entry.size}});
        rows.push_back({{"object", row.object},
                        {"options", row.options},
                        {"bytes", row.bytes},
                        {"entries", entries}});
    }
    return {{"schema", "shmbus.footprint"},
            {"version", kSchemaVersion},
            {"segment_tables", report.segment_tables},
            {"objects", rows}};
}

FootprintCommand::FootprintCommand(CLI::App& app)
    : m_command(app.add_subcommand(
          "footprint", wrap_help("Show how much shared memory each kind of object takes with its "
                                 "default options, measured by making one of each in a scratch "
                                 "segment (removed at once)"))) {
    m_command->add_flag("--json", m_json,
                        wrap_help("Print one JSON document (schema shmbus.footprint)"));
    m_command->footer("\nBYTES is the sum of the object's directory entries, its companion locks "
                      "included.\nSize a segment as the tables plus the objects it will hold.");
}

int FootprintCommand::run(std::ostream& out, std::ostream& err) const {
    try {
        const FootprintReport report = measure_footprint();
        out << (m_json ? footprint_json(report).dump(2) + "\n" : format_footprint(report));
        return kExitOk;
    } catch (const std::exception& e) {
        err << "shmbus: footprint: " << e.what() << "\n";
        return kExitFailure;
    }
}

} // namespace shmbus::cli
