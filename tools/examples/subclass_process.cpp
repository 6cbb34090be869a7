// SPDX-License-Identifier: Apache-2.0
// A Process subclass: run() is what the child executes; other methods are ordinary member
// functions, here called in the parent.
#include <iostream>
#include <shmbus/process.hpp>
#include <string>
#include <unistd.h>

namespace {

class Greeter : public shmbus::Process {
public:
    explicit Greeter(std::string who) : m_who(std::move(who)) {}

    std::string greeting() const { return "hello, " + m_who; }

protected:
    void run() override {
        std::cout << name() << " (pid " << ::getpid() << ") says: " << greeting() << std::endl;
    }

private:
    std::string m_who;
};

} // namespace

int main() {
    Greeter greeter("world");
    std::cout << "parent (pid " << ::getpid() << ") calls greeting(): " << greeter.greeting()
              << std::endl;
    greeter.start();
    greeter.join();
    std::cout << greeter.name() << " exitcode=" << greeter.exitcode().value_or(-1000) << std::endl;
    return greeter.exitcode() == 0 ? 0 : 1;
}
