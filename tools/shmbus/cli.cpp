// SPDX-License-Identifier: Apache-2.0
// Command-line parsing (CLI11) and dispatch; exceptions from shmbus/errors.hpp become exit codes
// here and nowhere else.
#include "cli.hpp"

#include "bench.hpp"
#include "decode_messaging.hpp"
#include "footprint.hpp"
#include "program_command.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/version.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ostream>
#include <string>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace shmbus::cli {
namespace {

constexpr const char* kDescription =
    "shmbus - inspect and clean up shmbus shared-memory segments.\n\n"
    "Every shmbus segment is a file in /dev/shm that starts with the shmbus magic; other files\n"
    "there are never touched. The tool only observes: it never joins a segment's table of\n"
    "attached processes, so it cannot make a stale segment (every attached process dead) look\n"
    "alive.";

constexpr const char* kFooter =
    "\nEXIT STATUS\n"
    "  0  success: ls always (even with stale or corrupt segments listed), inspect and watch of\n"
    "     a readable segment (STALE too), rm of a stale segment, gc when it removed (or, with\n"
    "     --dry-run, may remove) every stale segment it found, bench when every mechanism ran,\n"
    "     --help and --version\n"
    "  1  failure: segment not found, corrupt or foreign file, permission denied, segment in\n"
    "     use by live processes or of unknown liveness (rm without --force), a stale segment gc\n"
    "     could not remove, a bench mechanism that failed\n"
    "  2  usage error: unknown command or option, bad option value, invalid segment name\n"
    "\nSEGMENT NAMES\n"
    "  NAME, /NAME and /dev/shm/NAME all name the segment file /dev/shm/NAME.\n"
    "\nEXAMPLES\n"
    "  shmbus ls                          list segments, STALE marks crashed ones\n"
    "  shmbus ls --json | jq .segments    the same as JSON\n"
    "  shmbus inspect myapp               header, processes and every object's state\n"
    "  shmbus watch myapp --interval 0.5  refresh the object table twice a second\n"
    "  shmbus watch myapp --count 1 --json  one JSON snapshot\n"
    "  shmbus gc --dry-run                show which stale segments gc would remove\n"
    "  shmbus rm /dev/shm/myapp           remove a segment no live process uses\n"
    "  shmbus bench --quick               shmbus against pipes, sockets and message queues\n"
    "  shmbus footprint                   shared memory each kind of object takes\n"
    "\nJSON documents carry \"schema\" (shmbus.ls, shmbus.inspect, shmbus.watch, shmbus.rm,\n"
    "shmbus.gc, shmbus.footprint) and \"version\".";

int fail(std::ostream& err, const std::exception& e, int code) {
    err << "shmbus: " << e.what() << "\n";
    return code;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Options {
    bool json = false;
    std::string name;
    double interval = 1.0;
    std::uint64_t count = 0;
    bool force = false;
    bool dry_run = false;
    std::string prefix;
};

int run_watch(const Options& options, std::ostream& out) {
    // Clearing the screen only makes sense on a terminal; a pipe gets one table per refresh.
    const bool clear = &out == &std::cout && ::isatty(STDOUT_FILENO) && !options.json;
    SegmentReport previous;
    auto previous_time = std::chrono::steady_clock::now();
    for (std::uint64_t refresh = 1; options.count == 0 || refresh <= options.count; ++refresh) {
        if (refresh > 1)
            std::this_thread::sleep_for(std::chrono::duration<double>(options.interval));
        SegmentReport report = inspect_segment(options.name);
        const auto now = std::chrono::steady_clock::now();
        if (refresh > 1)
            add_rates(report, previous, std::chrono::duration<double>(now - previous_time).count());
        if (options.json) {
            out << watch_json(report, refresh, now_ms()).dump() << "\n";
        } else {
            if (clear)
                out << "\x1b[H\x1b[2J";
            else if (refresh > 1)
                out << "\n";
            out << format_watch(report, refresh, now_ms(), terminal_width());
        }
        out.flush();
        previous = std::move(report);
        previous_time = now;
    }
    return kExitOk;
}

std::string kept_reason(const SegmentSummary& summary) {
    const std::string status(to_string(summary.status));
    return summary.problem.empty() ? status : status + ": " + summary.problem;
}

int report_garbage(const GarbageReport& report, bool dry_run, bool json, std::ostream& out,
                   std::ostream& err) {
    if (json) {
        out << gc_json(report, dry_run).dump(2) << "\n";
    } else {
        for (const std::string& name : report.removed)
            out << (dry_run ? "would remove " : "removed ") << name << "\n";
        for (const SegmentSummary& summary : report.kept)
            out << "kept " << summary.name << ": liveness unknown (" << kept_reason(summary)
                << ")\n";
        if (report.removed.empty() && report.failed.empty())
            out << "no stale segments\n";
    }
    for (const GarbageFailure& failure : report.failed)
        err << "shmbus: " << (dry_run ? "may not remove " : "could not remove ") << failure.name
            << ": " << failure.reason << "\n";
    return report.failed.empty() ? kExitOk : kExitFailure;
}

// rm's errors still exit as usual; with --json the refusal is also the document's "failed".
int run_rm(const Options& options, std::ostream& out, std::ostream& err) {
    const auto refused = [&](const std::exception& e, int code) {
        if (options.json)
            out << rm_json(options.name, e.what()).dump(2) << "\n";
        return fail(err, e, code);
    };
    try {
        remove_segment(options.name, options.force);
    } catch (const InvalidName& e) {
        return refused(e, kExitUsage);
    } catch (const std::exception& e) {
        return refused(e, kExitFailure);
    }
    out << (options.json ? rm_json(options.name).dump(2) : "removed " + options.name) << "\n";
    return kExitOk;
}

} // namespace

std::string wrap_help(std::string_view text, std::size_t width) {
    std::string result;
    std::size_t line_length = 0;
    while (!text.empty()) {
        const std::size_t space = text.find(' ');
        const std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        if (line_length > 0 && line_length + 1 + word.size() > width) {
            result += '\n';
            line_length = 0;
        } else if (line_length > 0) {
            result += ' ';
            ++line_length;
        }
        result += word;
        line_length += word.size();
    }
    return result;
}

std::size_t terminal_width() {
    if (const char* columns = std::getenv("COLUMNS")) {
        const std::string_view text(columns);
        std::size_t width = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), width);
        if (error == std::errc() && end == text.data() + text.size() && width > 0)
            return width;
    }
    winsize size{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
        size.ws_col > 0)
        return size.ws_col;
    return kDefaultWidth;
}

std::string segment_name_argument(std::string_view argument) {
    for (const std::string_view prefix : {std::string_view("/dev/shm/"), std::string_view("/")})
        if (argument.starts_with(prefix))
            return std::string(argument.substr(prefix.size()));
    return std::string(argument);
}

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    CLI::App app{kDescription, "shmbus"};
    app.get_formatter()->column_width(kHelpColumn); // subcommands share this formatter
    app.footer(kFooter);
    app.require_subcommand(1, 1);
    app.set_version_flag("--version", std::string("shmbus ") + SHMBUS_VERSION_STRING +
                                          " (segment layout " +
                                          std::to_string(SHMBUS_LAYOUT_VERSION) + ")");
    Options options;
    const std::string name_help = wrap_help("Segment name: NAME, /NAME or /dev/shm/NAME");

    CLI::App* ls = app.add_subcommand(
        "ls", wrap_help("List every shmbus segment on this host: size, mode, owner, creator pid, "
                        "attached pids with process names (dead ones marked; a long list ends in "
                        "\"+N more\" to fit the terminal) and status (ok, STALE, unknown, corrupt, "
                        "unreadable). Symlinks are listed as corrupt and never followed; segments "
                        "you may not read as unreadable, with their owner and size. Below the "
                        "table, each NATS bridge recorded in a segment"));
    ls->add_flag("--json", options.json,
                 wrap_help("Print one JSON document (schema shmbus.ls), every process included"));
    ls->footer("\nExit status is 0 even when segments are stale or corrupt. The table fits in\n"
               "$COLUMNS columns, else the terminal's width, else 100.");

    CLI::App* inspect = app.add_subcommand(
        "inspect",
        wrap_help("Show a segment's header, every attached process (pid and name) and every "
                  "object with its decoded state: Lock held/owner/owner dead; RLock owner and "
                  "count; Semaphore and BoundedSemaphore value and bound; Event set/clear; "
                  "Condition waiters; Barrier parties/waiting/broken; Value contents; Array length "
                  "and element type; Queue and JoinableQueue depth, capacity, put/get counters, "
                  "parked getters and putters, unfinished tasks; Pipe channels and closed ends; "
                  "Manager Dict and List entries; Pool workers and tasks; each NATS bridge "
                  "(direction, queue or topic, subject, in flight, forwarded, errors, last "
                  "error). An object this version cannot decode shows its kind and size"));
    inspect->add_option("NAME", options.name, name_help)->required();
    inspect->add_flag("--json", options.json,
                      wrap_help("Print one JSON document (schema shmbus.inspect)"));
    inspect->footer("\nA STALE segment is shown with exit status 0; a missing, corrupt or foreign "
                    "one exits 1.\nExample: shmbus inspect /dev/shm/myapp --json");

    CLI::App* watch = app.add_subcommand(
        "watch", wrap_help("Refresh a table of a segment's objects and their states until "
                           "interrupted"));
    watch->add_option("NAME", options.name, name_help)->required();
    watch->add_option("--interval", options.interval, "Seconds between refreshes")
        ->check(CLI::Range(0.01, 86400.0))
        ->capture_default_str();
    watch->add_option("--count", options.count, "Stop after N refreshes (0: never)")
        ->capture_default_str();
    watch->add_flag("--json", options.json,
                    wrap_help("Print one JSON document per refresh, one per line (schema "
                              "shmbus.watch)"));
    watch->footer("\nExample: shmbus watch myapp --interval 0.2 --count 50 --json > states.jsonl");

    CLI::App* rm = app.add_subcommand(
        "rm", wrap_help("Remove a stale segment's name (mappings already made stay valid until "
                        "their processes unmap them)"));
    rm->add_option("NAME", options.name, name_help)->required();
    rm->add_flag("--force", options.force,
                 wrap_help("Remove the name even when live processes use the segment, its "
                           "liveness is unknown (corrupt, symlink) or it is not a shmbus segment"));
    rm->add_flag("--json", options.json,
                 wrap_help("Print one JSON document (schema shmbus.rm): removed, or failed with "
                           "the reason"));
    rm->footer("\nExits 1 when there is no such segment, permission is denied, or (without "
               "--force) live processes\nuse it (they are named) or it is not a stale shmbus "
               "segment; 2 for an invalid name.");

    CLI::App* gc = app.add_subcommand(
        "gc", wrap_help("Remove every stale segment: those whose attached processes are all dead "
                        "(left behind by crashed or killed programs). Live segments are kept, and "
                        "so are those whose liveness is unknown (corrupt, unreadable, symlinks), "
                        "each named with why"));
    gc->add_flag("--dry-run", options.dry_run,
                 wrap_help("Only list the segments gc would remove, and those it may not"));
    gc->add_option("--prefix", options.prefix,
                   wrap_help("Only consider segments whose name starts with it"));
    gc->add_flag("--json", options.json,
                 wrap_help("Print one JSON document (schema shmbus.gc): removed, kept and failed "
                           "segments with reasons"));
    gc->footer("\nExits 1 when a stale segment could not be removed (each is named on stderr).\n"
               "Example: shmbus gc --dry-run --prefix myapp");

    BenchCommand bench(app);
    FootprintCommand footprint(app);
    ProgramCommand bridge(app, "bridge",
                          "Move a local Queue's or Topic's messages to and from NATS JetStream "
                          "(runs shmbus-bridge: out, in, status; see README \"Beyond one host\")",
                          "shmbus-bridge", "SHMBUS_BRIDGE");
    ProgramCommand worker(app, "worker",
                          "Serve a Pool across hosts with the tasks of shared libraries (runs "
                          "shmbus-worker; see README \"A Pool across hosts\")",
                          "shmbus-worker", "SHMBUS_WORKER");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e, out, err);
        return code == 0 ? kExitOk : kExitUsage;
    }
    options.name = segment_name_argument(options.name);

    try {
        if (*ls) {
            const std::vector<SegmentSummary> segments = list_segments();
            out << (options.json ? ls_json(segments).dump(2) + "\n"
                                 : format_ls(segments, terminal_width()));
        } else if (*inspect) {
            const SegmentReport report = inspect_segment(options.name);
            out << (options.json ? inspect_json(report).dump(2) + "\n" : format_inspect(report));
        } else if (*watch) {
            return run_watch(options, out);
        } else if (*rm) {
            return run_rm(options, out, err);
        } else if (bench.selected()) {
            return bench.run(out, err);
        } else if (footprint.selected()) {
            return footprint.run(out, err);
        } else if (bridge.selected()) {
            return bridge.run(err);
        } else if (worker.selected()) {
            return worker.run(err);
        } else if (*gc) {
            return report_garbage(collect_garbage(options.dry_run, options.prefix), options.dry_run,
                                  options.json, out, err);
        }
        return kExitOk;
    } catch (const InvalidName& e) {
        return fail(err, e, kExitUsage);
    } catch (const Error& e) {
        // NotFound, CorruptSegment, PermissionDenied, SystemError: the named thing is unusable.
        return fail(err, e, kExitFailure);
    } catch (const std::exception& e) {
        return fail(err, e, kExitFailure);
    }
}

} // namespace shmbus::cli
