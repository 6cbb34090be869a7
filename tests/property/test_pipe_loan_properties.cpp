// SPDX-License-Identifier: Apache-2.0
// Pipe loans and borrows against models, under rapidcheck:
//   * one process: random sends, loans (published whole, in part, or dropped), recvs and
//     borrows against a model of the byte ring's positions (8-byte aligned frames, each
//     needing room for the next frame's header word too) and of where a loan's payload goes
//     (64-byte aligned, after a padding frame, never across the ring's end), so "no room" is
//     predicted exactly;
//   * two forked processes: a writer mixing sends and loans, a reader mixing recvs and borrows:
//     every message sent or published arrives once, whole and in order.
#include "support/harness.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <vector>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::uint64_t kCapacity = 1024;

enum class OpKind { send, loan_whole, loan_part, loan_drop, recv, borrow };

struct Op {
    OpKind kind;
    std::size_t length;
};

std::vector<std::byte> pattern(std::uint32_t serial, std::size_t length) {
    std::vector<std::byte> bytes(length);
    for (std::size_t i = 0; i < length; ++i)
        bytes[i] = static_cast<std::byte>(serial * 29 + i);
    return bytes;
}

// The ring's write and read positions and the frames between them.
struct Model {
    struct Frame {
        std::uint32_t serial;
        std::size_t length;
        std::uint64_t end;
    };
    std::uint64_t written = 0;
    std::uint64_t read = 0;
    std::deque<Frame> frames;

    bool fits(std::uint64_t bytes) const { return kCapacity - (written - read) >= bytes; }
    // A frame's bytes on the ring: an 8-byte header word and the payload padded to 8 bytes
    // (core/messaging/pipe_state.hpp). Writing one also needs room for the next header word.
    static std::uint64_t frame_bytes(std::size_t length) { return 8 + (length + 7) / 8 * 8; }
    // Where a loan's payload goes (the rule in core/messaging/pipe_loans.cpp).
    std::uint64_t loan_payload(std::size_t length) const {
        std::uint64_t payload = (written + 8 + 63) / 64 * 64;
        if (payload % kCapacity + length > kCapacity)
            payload = (payload + kCapacity - 1) / kCapacity * kCapacity + 64;
        return payload;
    }
};

void produce(const Op& op, Connection& writer, Model& model, std::uint32_t serial) {
    const std::vector<std::byte> bytes = pattern(serial, op.length);
    if (op.kind == OpKind::send) {
        const bool fits = model.fits(Model::frame_bytes(op.length) + 8);
        RC_ASSERT(writer.try_send_bytes(bytes) == fits);
        if (fits) {
            model.written += Model::frame_bytes(op.length);
            model.frames.push_back({serial, op.length, model.written});
        }
        return;
    }
    const std::uint64_t payload = model.loan_payload(op.length);
    auto loan = writer.try_loan(op.length);
    RC_ASSERT(loan.has_value() ==
              model.fits(payload - 8 + Model::frame_bytes(op.length) + 8 - model.written));
    if (!loan)
        return;
    RC_ASSERT(reinterpret_cast<std::uintptr_t>(loan->bytes().data()) % 64 == 0);
    if (op.kind == OpKind::loan_drop)
        return;
    const std::size_t used = op.kind == OpKind::loan_part ? op.length / 2 : op.length;
    if (used != 0) // an empty vector's data() may be null, which memcpy must not get
        std::memcpy(loan->bytes().data(), bytes.data(), used);
    loan->publish(used);
    model.written = payload - 8 + Model::frame_bytes(used);
    model.frames.push_back({serial, used, model.written});
}

void consume(const Op& op, Connection& reader, Model& model) {
    RC_ASSERT(reader.try_poll() == !model.frames.empty());
    if (model.frames.empty())
        return;
    const Model::Frame frame = model.frames.front();
    model.frames.pop_front();
    const std::vector<std::byte> expected = pattern(frame.serial, frame.length);
    if (op.kind == OpKind::recv) {
        RC_ASSERT(reader.recv_bytes() == expected);
    } else {
        auto borrowed = reader.borrow();
        RC_ASSERT(borrowed.bytes().size() == frame.length);
        RC_ASSERT(std::equal(expected.begin(), expected.end(), borrowed.bytes().begin()));
    }
    model.read = frame.end;
}

rc::Gen<Op> gen_op() {
    return rc::gen::construct<Op>(rc::gen::weightedElement<OpKind>({{3, OpKind::send},
                                                                    {3, OpKind::loan_whole},
                                                                    {1, OpKind::loan_part},
                                                                    {1, OpKind::loan_drop},
                                                                    {3, OpKind::recv},
                                                                    {3, OpKind::borrow}}),
                                  rc::gen::inRange<std::size_t>(0, 385));
}

} // namespace

RC_GTEST_PROP(PipeLoanModel, random_sends_loans_recvs_and_borrows_match_a_ring_model, ()) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = kCapacity});
    Model model;
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (ops[i].kind == OpKind::recv || ops[i].kind == OpKind::borrow)
            consume(ops[i], reader, model);
        else
            produce(ops[i], writer, model, static_cast<std::uint32_t>(i));
    }
    while (!model.frames.empty())
        consume(Op{OpKind::borrow, 0}, reader, model);
    RC_ASSERT(!reader.try_poll());
}

RC_GTEST_PROP(PipeLoanAcrossProcesses, a_writer_s_sends_and_loans_reach_the_reader_in_order, ()) {
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = kCapacity});
    std::vector<std::uint32_t> sent;
    for (std::uint32_t i = 0; i < ops.size(); ++i)
        if (ops[i].kind == OpKind::send || ops[i].kind == OpKind::loan_whole)
            sent.push_back(i);
    const auto borrows =
        *rc::gen::container<std::vector<bool>>(sent.size(), rc::gen::arbitrary<bool>());
    Child child([&] {
        for (std::size_t n = 0; n < sent.size(); ++n) {
            const std::vector<std::byte> expected = pattern(sent[n], ops[sent[n]].length);
            if (borrows[n]) {
                auto borrowed = reader.borrow();
                if (!std::ranges::equal(borrowed.bytes(), expected))
                    std::_Exit(2);
            } else if (reader.recv_bytes() != expected) {
                std::_Exit(3);
            }
        }
    });
    for (std::uint32_t i = 0; i < ops.size(); ++i) {
        const std::vector<std::byte> bytes = pattern(i, ops[i].length);
        if (ops[i].kind == OpKind::send) {
            writer.send_bytes(bytes);
        } else if (ops[i].kind == OpKind::loan_whole || ops[i].kind == OpKind::loan_drop) {
            auto loan = writer.loan(ops[i].length);
            std::ranges::copy(bytes, loan.bytes().begin());
            if (ops[i].kind == OpKind::loan_whole)
                loan.publish();
        }
    }
    RC_ASSERT(child.wait() == 0);
}
