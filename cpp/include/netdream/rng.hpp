// Random streams: xoshiro256** seeded through splitmix64. One stream per
// work item, derived from (seed, item index), so that results do not depend
// on how items are spread over threads. tests/reference.py mirrors it.
#pragma once

#include <cstdint>

namespace netdream {

inline std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

class Rng {
public:
    // Stream `stream` of generator `seed`.
    Rng(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
        for (auto& w : s_) w = splitmix64(x);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, 1) with 53 random bits. (The 53 bits convert through a
    // signed integer: one instruction on every x86-64, where an unsigned 64-bit
    // conversion needs a branchy sequence before AVX-512; the value is the same.)
    double uniform() {
        return static_cast<double>(static_cast<std::int64_t>(next() >> 11)) * 0x1.0p-53;
    }
    // Uniform integer in [0, n): floor(uniform() * n).
    std::int64_t below(std::int64_t n) {
        return static_cast<std::int64_t>(uniform() * static_cast<double>(n));
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

}  // namespace netdream
