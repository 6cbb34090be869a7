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
#ifndef SHMBUS_BENCH_PYTHON_SHMBUS_SCRIPT
#define SHMBUS_BENCH_PYTHON_SHMBUS_SCRIPT "tools/bench/python_shmbus.py"
#endif
#ifndef SHMBUS_BENCH_PYTHON_INTERPRETER
#define SHMBUS_BENCH_PYTHON_INTERPRETER "python3"
#endif
#ifndef SHMBUS_BENCH_PYTHON_MODULE_DIR
#define SHMBUS_BENCH_PYTHON_MODULE_DIR ""
#endif
#ifndef SHMBUS_BENCH_PYTHON_PEER
#define SHMBUS_BENCH_PYTHON_PEER ""
#endif
#ifndef SHMBUS_BENCH_NATS_PROGRAM
#define SHMBUS_BENCH_NATS_PROGRAM ""
#endif
#ifndef SHMBUS_BENCH_TOPIC_PROGRAM
#define SHMBUS_BENCH_TOPIC_PROGRAM ""
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
    "  Baselines: the floor (one cache line each way, nothing else: the least a handoff between\n"
    "  two processes costs, the same at every size; latency only), a plain SPSC ring in shared\n"
    "  memory (a sequence word per slot, payloads 64-byte aligned, no features: what a\n"
    "  competent hand-written ring costs), pipe(2), and memcpy within the caches and across\n"
    "  two buffers far beyond the last-level cache (DRAM). Compared: shmbus Queue and Pipe under\n"
    "  the spin, hybrid (default) and block wait policies, a Unix socketpair, a POSIX message\n"
    "  queue, a Boost.Interprocess message_queue, shmbus Pool.map and apply_async; with\n"
    "  --python, Python's multiprocessing Queue, Pipe and Pool.map too. The two processes are\n"
    "  pinned to two CPUs when the process may use two or more.\n"
    "\nTOPIC TABLE\n"
    "  One publisher to 1, 2 and 4 subscriber processes (--subscribers) of a shmbus Topic at\n"
    "  64 B, 64 KiB and 1 MiB (--topic-sizes), copying (publish/recv) and lending (loan/borrow):\n"
    "  the round trip (a message out, every subscriber answers) p50 and p99, and the one-way\n"
    "  rate (every subscriber receives every message, checked for order and loss). Waits spin\n"
    "  while the publisher and its subscribers have a CPU each (one subscriber on two CPUs) and\n"
    "  block beyond. In each round the plain ring and a Queue with one consumer run at the same\n"
    "  size first, then for each subscriber count the Topic rows and iceoryx's right after\n"
    "  them: /Queue, /ring and /iceoryx are the medians of the per-round ratios. iceoryx's\n"
    "  publish/subscribe (zero copy; polling with one subscriber, a WaitSet beyond; its\n"
    "  publisher waits for full subscriber queues) comes from bench_topic_bench\n"
    "  --iceoryx-serve, kept as a child through the table when it was built with iceoryx\n"
    "  (libiceoryx-posh-dev): it starts iox-roudi once and stops it after. Without it the\n"
    "  run says \"iceoryx: not installed\".\n"
    "\nNATS ROWS (--nats)\n"
    "  What leaving the host costs: a Queue<int64_t>'s message through bridge out -> nats-server\n"
    "  -> bridge in between two segments (round trip with one in flight, and a burst), a Pool's\n"
    "  apply and map over NATS with one worker, at 8 B. The run starts nats-server (JetStream,\n"
    "  127.0.0.1, a free port, a temporary store) and stops it after; each round runs\n"
    "  shmbus-nats-bench --json as a child, right after pipe(2) and the Queue (hybrid) at 8 B,\n"
    "  so the notes give the paired ratios to them. Without nats-server or shmbus-nats-bench\n"
    "  the run says \"NATS: not available\".\n"
    "\nROUNDS AND RATIOS\n"
    "  Every row is measured in several short rounds (3 with --quick, 5 otherwise, or\n"
    "  --rounds), each in fresh processes after an unrecorded warm-up, and the floor and the\n"
    "  ring are measured in the same round: for round trips, through the same two pinned\n"
    "  processes, the three channels taking turns in a rotating order every 512 round trips\n"
    "  (64 from 16 KiB up; the first eighth of a turn settles the switch and is not recorded),\n"
    "  so a VM whose speed shifts every few seconds moves all three alike; for throughput (and\n"
    "  Python's rows, another process), right before the row. A row reports the median of\n"
    "  its rounds and their spread (min-max); /floor and /ring are the median of the per-round\n"
    "  ratios. The floor's and the ring's own rows pool their measurements from every round.\n"
    "  /pipe and /DRAM memcpy divide the row's median by that row's median (not paired).\n"
    "  Latency rounds stop after 25 ms per channel (--quick) or 150 ms; throughput rounds run\n"
    "  100 ms (--quick) or 250 ms after their warm-up. Pool.map maps 10^5 (--quick) or 10^6\n"
    "  tasks.";

constexpr const char* kFooter =
    "\n\nOUTPUT\n"
    "  One latency table and one throughput table per message size. Absolute figures vary by\n"
    "  machine and load, the ratios within one run are the claim. The load average before and\n"
    "  after the run is printed: compare only quiet runs.\n"
    "  --json prints one document: schema \"shmbus.bench\", version 3; mode, rounds, cpu_model,\n"
    "  cpus, pinned, llc_bytes, dram_buffer_bytes, load_average, sizes, mechanisms (key,\n"
    "  label), latency and throughput rows, topic, notes. A row: mechanism, size, available, "
    "note,\n"
    "  rounds (how many); latency: count and p50_ns ... max_ns (each the median over the\n"
    "  rounds); throughput: messages and seconds (summed), messages_per_s and bytes_per_s\n"
    "  (medians); spread ({min, max} over the rounds of p50_ns and p99_ns, or messages_per_s);\n"
    "  per_round (each round's count, p50_ns and p99_ns, or messages, seconds and\n"
    "  messages_per_s, with floor_p50_ns and ring_p50_ns, or ring_messages_per_s, of the\n"
    "  baselines measured beside it); ratio_to_floor, ratio_to_ring,\n"
    "  ratio_to_pipe (latency: p50 ... max) and ratio_to_ring, ratio_to_pipe,\n"
    "  ratio_to_memcpy_cache, ratio_to_memcpy_dram (throughput: messages_per_s), each with\n"
    "  paired (true: per-round ratios) and spread ({min, max} of the p50 or rate ratio).\n"
    "  Keys: floor, ring, pipe2, memcpy.cache, memcpy.dram, shmbus.queue.<policy>,\n"
    "  shmbus.pipe.<policy>, socketpair, posix_mq, boost_mq, shmbus.pool.map,\n"
    "  shmbus.pool.apply_async, python.mp_queue, python.mp_pipe, python.pool.map,\n"
    "  nats.queue.bridge, nats.pool.apply, nats.pool.map (their per_round items hold the paired\n"
    "  pipe2 and shmbus.queue.hybrid figures).\n"
    "  topic: sizes, subscribers, mechanisms (ring, shmbus.queue, shmbus.topic.copy,\n"
    "  shmbus.topic.loan, iceoryx) and rows: mechanism, size, subscribers, wait, and latency\n"
    "  and throughput objects holding a row's fields (available, rounds, figures, spread,\n"
    "  per_round) with ratio_to_queue, ratio_to_ring and ratio_to_iceoryx (paired).\n"
    "  tools/scripts/check-floor.sh runs --quick N times and lists every round in which a row\n"
    "  beat the floor.\n"
    "\nNOTES\n"
    "  POSIX mq messages are limited by /proc/sys/fs/mqueue/msgsize_max (8192 by default):\n"
    "  larger sizes are reported n/a, unless --raise-mq-limit is given as root, which raises\n"
    "  the limit for the run, says so, and restores it. Spin policies burn both CPUs while\n"
    "  they wait. Segment and queue names are removed as soon as their objects exist, so a\n"
    "  run leaves nothing behind in /dev/shm or the mqueue filesystem. The DRAM memcpy row\n"
    "  fills two buffers of 4x the last-level cache (256 MiB to 1 GiB each; --dram-mib).\n"
    "\nEXAMPLES\n"
    "  shmbus bench --quick                        under a minute\n"
    "  shmbus bench                                the full run, a few minutes\n"
    "  shmbus bench --python --plot latency.svg    add Python's multiprocessing, draw a plot\n"
    "  shmbus bench --quick --only queue --json    shmbus Queue rows and the baselines, as JSON\n"
    "  shmbus bench --quick --only topic           the topic table (and the baselines)\n"
    "  shmbus bench --quick --only nats --nats     what leaving the host costs (and the "
    "baselines)\n"
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
                             "and Boost message queues, a plain shared-memory ring and the "
                             "one-line floor, and a Topic's 1-to-N delivery with iceoryx's: "
                             "latency and throughput, in interleaved rounds"))) {
    m_command->footer(std::string(kDescription) + kFooter);
    m_command->add_flag("--quick", m_quick,
                        wrap_help("3 shorter rounds per row: under a minute, for smoke tests"));
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
                        wrap_help("Also run Python's multiprocessing Queue, Pipe and Pool.map "
                                  "through tools/bench/python_mp.py (needs python3), and shmbus "
                                  "used from Python (tools/bench/python_shmbus.py, when the "
                                  "module is built), each round paired with one of mp.Queue"));
    m_python_script = SHMBUS_BENCH_PYTHON_SCRIPT;
    m_command->add_option("--python-script", m_python_script, "Where python_mp.py is")
        ->capture_default_str();
    m_python_interpreter = SHMBUS_BENCH_PYTHON_INTERPRETER;
    m_command
        ->add_option("--python-interpreter", m_python_interpreter,
                     wrap_help("The python3 that runs both scripts: by default the one the "
                               "module was built for, whose packages (msgpack) it needs"))
        ->capture_default_str();
    m_command
        ->add_option("--only", m_only,
                     wrap_help("Only mechanisms whose key contains TEXT (queue, pipe., shmbus, mq, "
                               "...); the floor, the ring and pipe(2) always run"))
        ->type_name("TEXT");
    m_command->add_option("--sizes", m_sizes, "Message sizes in bytes, comma-separated")
        ->delimiter(',')
        ->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20))
        ->capture_default_str();
    m_command->add_option("--rounds", m_rounds, "Rounds per row (default 3 with --quick, else 5)")
        ->check(CLI::Range(1, 100));
    m_command
        ->add_option("--dram-mib", m_dram_mib,
                     wrap_help("Each DRAM memcpy buffer in MiB (default: 4x the last-level "
                               "cache, 256 to 1024)"))
        ->check(CLI::Range(1, 1 << 16));
    m_command
        ->add_option("--topic-sizes", m_topic_sizes,
                     wrap_help("The topic table's message sizes in bytes, comma-separated"))
        ->delimiter(',')
        ->check(CLI::Range(std::size_t{8}, std::size_t{16} << 20))
        ->capture_default_str();
    m_command
        ->add_option("--subscribers", m_topic_subscribers,
                     wrap_help("The topic table's subscriber counts, comma-separated"))
        ->delimiter(',')
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    m_iceoryx_program = SHMBUS_BENCH_TOPIC_PROGRAM;
    m_command
        ->add_option("--iceoryx-program", m_iceoryx_program,
                     wrap_help("bench_topic_bench, run for iceoryx's rows of the topic table"))
        ->capture_default_str();
    m_command->add_flag("--no-iceoryx", m_no_iceoryx, "Leave iceoryx out of the topic table");
    m_command->add_flag(
        "--nats", m_nats,
        wrap_help("Also measure what leaving the host costs: a Queue through bridge out -> "
                  "nats-server -> bridge in and a Pool over NATS (starts and stops its own "
                  "nats-server on 127.0.0.1; needs nats-server and shmbus-nats-bench)"));
    m_nats_program = SHMBUS_BENCH_NATS_PROGRAM;
    m_command->add_option("--nats-program", m_nats_program, "shmbus-nats-bench, run each round")
        ->capture_default_str();
    m_command->add_option("--nats-server", m_nats_server, "nats-server to start");
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
        options.rounds = m_rounds;
        options.dram_bytes = m_dram_mib << 20;
        options.topic_sizes = m_topic_sizes;
        options.topic_subscribers = m_topic_subscribers;
        options.iceoryx_program = m_iceoryx_program;
        options.iceoryx = !m_no_iceoryx;
        options.nats = m_nats;
        options.nats_program = m_nats_program;
        options.nats_server = m_nats_server;
        if (m_python) {
            options.python_script = m_python_script;
            options.python_interpreter = m_python_interpreter;
            options.python_shmbus_script = SHMBUS_BENCH_PYTHON_SHMBUS_SCRIPT;
            options.python_module_dir = SHMBUS_BENCH_PYTHON_MODULE_DIR;
            options.python_peer = SHMBUS_BENCH_PYTHON_PEER;
        }
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
