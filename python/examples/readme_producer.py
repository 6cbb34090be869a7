# SPDX-License-Identifier: Apache-2.0
# README "From Python": a Python producer for readme_consumer.cpp.
import time

import shmbus

segment = shmbus.Segment.open_or_create("orders-demo")
orders = shmbus.Queue(segment=segment, name="orders")
for symbol, quantity, price in [("ACME", 10, 1.5), ("INIT", -3, 20.25), ("ACME", 5, 1.75)]:
    orders.put({"symbol": symbol, "quantity": quantity, "price": price})
orders.put(None)  # the C++ side reads it as an empty std::optional: no more orders
while not orders.empty():  # stay until the consumer took them: a segment no live process
    time.sleep(0.01)       # is attached to is stale, and open_or_create would replace it
