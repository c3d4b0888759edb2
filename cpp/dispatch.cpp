// Chooses the kernels for the CPU at run time (NETDREAM_ISA overrides).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "netdream/kernels.hpp"

namespace netdream {

#define ND_DECLARE(ns) \
    namespace ns { extern const Kernels table; }
ND_DECLARE(isa_base)
#ifdef NETDREAM_HAVE_X86_DISPATCH
ND_DECLARE(isa_avx2)
ND_DECLARE(isa_avx512)
#endif
#undef ND_DECLARE

namespace {

bool supported(const Kernels& k) {
#ifdef NETDREAM_HAVE_X86_DISPATCH
    __builtin_cpu_init();
    if (&k == &isa_avx512::table)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (&k == &isa_avx2::table)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    (void)k;
    return true;
}

const Kernels* const all[] = {
#ifdef NETDREAM_HAVE_X86_DISPATCH
    &isa_avx512::table, &isa_avx2::table,
#endif
    &isa_base::table, nullptr};

const char* const names[] = {
#ifdef NETDREAM_HAVE_X86_DISPATCH
    "avx512", "avx2",
#endif
    "base", nullptr};

const Kernels& choose() {
    if (const char* want = std::getenv("NETDREAM_ISA")) {
        if (*want) {
            const Kernels* k = kernels_named(want);
            if (!k)
                throw std::invalid_argument(std::string("NETDREAM_ISA=") + want +
                                            " is not built in or not supported by this CPU");
            return *k;
        }
    }
    for (const Kernels* const* k = all; *k; ++k)
        if (supported(**k)) return **k;
    return isa_base::table;
}

}  // namespace

const Kernels* kernels_named(const char* name) {
    for (const Kernels* const* k = all; *k; ++k)
        if (std::strcmp((*k)->name, name) == 0) return supported(**k) ? *k : nullptr;
    return nullptr;
}

const char* const* kernel_names() { return names; }

namespace {
// Set once, by whichever thread asks first (several may race to choose: they
// choose the same); set_kernels replaces it for tests.
std::atomic<const Kernels*> current{nullptr};
}  // namespace

const Kernels& kernels() {
    const Kernels* k = current.load(std::memory_order_acquire);
    if (k) return *k;
    const Kernels* chosen = &choose();
    const Kernels* expected = nullptr;
    if (!current.compare_exchange_strong(expected, chosen, std::memory_order_acq_rel))
        return *expected;
    return *chosen;
}

void set_kernels(const char* name) {
    const Kernels* k = kernels_named(name);
    if (!k) throw std::invalid_argument(std::string("kernels '") + name +
                                        "' are not built in or not supported by this CPU");
    current.store(k, std::memory_order_release);
}

}  // namespace netdream
