// SPDX-License-Identifier: Apache-2.0
#include "bench.hpp"

#include "cli.hpp"
#include "suite.hpp"

#include <fstream>
#include <iostream>
#include <unistd.h>

#ifndef SHMBUS_BENCH_PYTHON_SCRIPT
#define SHMBUS_BENCH_PYTHON_SCRIPT "tools/bench/python_mp.py"
#endif

namespace shmbus::cli {
namespace {

constexpr const char* kDescription =
    "\nDESCRIPTION\n"
    "  Measures, in one run, what moving a message between two processes costs with shmbus\n"
    "  and with its peers, at 8 B, 64 B, 1 KiB and 64 KiB (or --sizes):\n"
    "  - round-trip latency (ping-pong between two processes): p50, p90, p99, p99.9 and max\n"
    "    from a log-linear histogram (3% resolution);\n"
    "  - one-way throughput (msg/s and MB/s), every message checked for order and loss.\n"
    "  Mechanisms: the raw cache-line ping-pong between two processes (the floor), shmbus\n"
    "  Queue and Pipe under the spin, hybrid (default) and block wait policies, pipe(2), a Unix\n"
    "  socketpair, a POSIX message queue and a Boost.Interprocess message_queue; memcpy in\n"
    "  cache is the throughput ceiling. With --python, Python's multiprocessing Queue and Pipe\n"
    "  too. The two processes are pinned to two CPUs when the process may use two or more.\n"
    "  Each measurement stops early when its time budget (0.15 s with --quick, 2 s otherwise)\n"
    "  has passed, so a slow mechanism on a loaded machine gives fewer samples, not a hang.";

constexpr const char* kFooter =
    "\n\nOUTPUT\n"
    "  One latency table and one throughput table per message size. Every figure is also\n"
    "  given divided by the same figure of the floor (/floor) and of pipe(2) (/pipe): absolute\n"
    "  figures vary by machine and load, the ratios within one run are the claim. The load\n"
    "  average before and after the run is printed: compare only quiet runs.\n"
    "  --json prints one document (schema shmbus.bench, version 1): mechanisms, latency and\n"
    "  throughput rows (with ratio_to_floor and ratio_to_pipe), notes.\n"
    "\nNOTES\n"
    "  POSIX mq messages are limited by /proc/sys/fs/mqueue/msgsize_max (8192 by default):\n"
    "  larger sizes are reported n/a, unless --raise-mq-limit is given as root, which raises\n"
    "  the limit for the run, says so, and restores it. Spin policies burn both CPUs while\n"
    "  they wait. Segment and queue names are removed as soon as their objects exist, so a\n"
    "  run leaves nothing behind in /dev/shm or the mqueue filesystem.\n"
    "\nEXAMPLES\n"
    "  shmbus bench --quick                        about 15 seconds\n"
    "  shmbus bench                                the full run, a few minutes\n"
    "  shmbus bench --python --plot latency.svg    add Python's multiprocessing, draw a plot\n"
    "  shmbus bench --quick --only queue --json    shmbus Queue rows and the baselines, as JSON\n"
    "\nEXIT STATUS\n"
    "  0  every measurement ran (n/a rows included)\n"
    "  1  a measurement failed (a row says why) or a file could not be written\n"
    "  2  usage error";

/// Writes `text` to `path` unless the path is empty; false (and a message) when it fails.
bool write_file(const std::string& path, const std::string& text, std::ostream& err) {
    if (path.empty())
        return true;
    std::ofstream file(path);
    file << text;
    if (file.flush())
        return true;
    err << "shmbus: cannot write " << path << "\n";
    return false;
}

} // namespace

BenchCommand::BenchCommand(CLI::App& app)
    : m_command(app.add_subcommand(
          "bench", wrap_help("Compare shmbus Queue and Pipe with pipe(2), Unix sockets, POSIX "
                             "and Boost message queues and the raw shared-memory floor: "
                             "latency and throughput"))) {
    m_command->footer(std::string(kDescription) + kFooter);
    m_command->add_flag(
        "--quick", m_quick,
        wrap_help("Fewer round trips and messages: under 30 seconds, for smoke tests"));
    m_command->add_flag("--json", m_json, "Print one JSON document (schema shmbus.bench)");
    m_command
        ->add_option("--plot", m_plot,
                     wrap_help("Also write an SVG plot of the latency percentiles to FILE"))
        ->type_name("FILE.svg");
    m_command
        ->add_option("--json-file", m_json_file,
                     wrap_help("Also write the JSON document to FILE (with the tables on stdout)"))
        ->type_name("FILE");
    m_command->add_flag("--python", m_python,
                        wrap_help("Also run Python's multiprocessing Queue and Pipe through "
                                  "tools/bench/python_mp.py (needs python3)"));
    m_python_script = SHMBUS_BENCH_PYTHON_SCRIPT;
    m_command->add_option("--python-script", m_python_script, "Where python_mp.py is")
        ->capture_default_str();
    m_command
        ->add_option("--only", m_only,
                     wrap_help("Only mechanisms whose key contains TEXT (queue, pipe., shmbus, mq, "
                               "...); the floor and pipe(2) always run"))
        ->type_name("TEXT");
    m_command->add_option("--sizes", m_sizes, "Message sizes in bytes, comma-separated")
        ->delimiter(',')
        ->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20))
        ->capture_default_str();
    m_command->add_flag("--no-pin", m_no_pin, "Let the scheduler place the two processes");
    m_command->add_flag("--raise-mq-limit", m_raise_mq_limit,
                        wrap_help("As root: raise /proc/sys/fs/mqueue/msgsize_max for the run so "
                                  "POSIX mq carries 64 KiB (restored afterwards)"));
}

int BenchCommand::run(std::ostream& out, std::ostream& err) const {
    try {
        bench::SuiteOptions options;
        options.quick = m_quick;
        options.pin = !m_no_pin;
        options.raise_mq_limit = m_raise_mq_limit;
        options.only = m_only;
        options.sizes = m_sizes;
        if (m_python)
            options.python_script = m_python_script;
        if (&err == &std::cerr && ::isatty(STDERR_FILENO))
            options.progress = [&err](const std::string& step) {
                err << "\r\x1b[Kbench: " << step << std::flush;
            };
        const bench::Report report = bench::run_suite(options);
        if (options.progress)
            err << "\r\x1b[K" << std::flush;
        out << (m_json ? bench::to_json(report).dump(2) + "\n" : bench::format_report(report));
        const bool written = write_file(m_plot, bench::render_svg(report), err) &&
                             write_file(m_json_file, bench::to_json(report).dump(2) + "\n", err);
        return report.any_failed() || !written ? 1 : 0;
    } catch (const std::exception& e) {
        err << "shmbus: bench: " << e.what() << "\n";
        return 1;
    }
}

} // namespace shmbus::cli
