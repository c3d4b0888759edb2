// Regularisers of the searches: a weighted sum of terms, each a pair of C
// functions (a Numba cfunc or any C function) with a full value and an O(1)
// single-pixel delta. Plain C++: no Python.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace netdream {

// A term's full value on an h x w image (row-major doubles).
using RegValueFn = double (*)(const double* img, std::int64_t h, std::int64_t w,
                              const double* params);
// The change of the value when pixel i is set to new_value. Must be
// thread-safe: it only reads img and params.
using RegDeltaFn = double (*)(const double* img, std::int64_t h, std::int64_t w, std::int64_t i,
                              double new_value, const double* params);

struct RegTerm {
    std::string name;
    double weight = 0.0;
    std::uintptr_t value = 0;  // RegValueFn
    std::uintptr_t delta = 0;  // RegDeltaFn (searches that only need values may leave it 0)
    std::vector<double> params{0.0};
};

// A term returned NaN or an infinity (a Numba kernel that raised returns NaN
// through its wrapper): the search stops with this error, which carries
// what Python needs to re-raise the term's own error.
struct RegularizerError : std::runtime_error {
    int term;
    std::vector<double> image;  // the image the term was evaluated on
    std::int64_t pixel;         // -1 for a full value
    double new_value;
    RegularizerError(int term_, std::vector<double> image_, std::int64_t pixel_, double nv,
                     const std::string& name)
        : std::runtime_error("regularizer '" + name + "' returned NaN or infinity"),
          term(term_), image(std::move(image_)), pixel(pixel_), new_value(nv) {}
};

// The weighted sum of the terms on images of `channels` planes of h x w
// pixels (each term applies to every plane; pixel i of the flat image lies in
// plane i / (h * w)).
class Regularizer {
public:
    Regularizer() = default;
    Regularizer(const std::vector<RegTerm>& terms, int channels, int h, int w)
        : terms_(terms), channels_(channels), h_(h), w_(w) {
        for (const RegTerm& t : terms_) {
            if (t.value == 0) throw std::invalid_argument("regularizer '" + t.name + "' has no value function");
            if (!std::isfinite(t.weight) || t.weight < 0)
                throw std::invalid_argument("regularizer '" + t.name + "' has a weight that is not finite and >= 0");
            if (t.params.empty()) throw std::invalid_argument("regularizer '" + t.name + "' has no params");
        }
        active_ = false;
        for (const RegTerm& t : terms_) active_ |= t.weight != 0.0;
    }
    bool active() const { return active_; }
    bool has_delta() const {
        for (const RegTerm& t : terms_)
            if (t.weight != 0.0 && t.delta == 0) return false;
        return true;
    }

    int size() const { return static_cast<int>(terms_.size()); }

    // Each term's value (unweighted) on img: out[k].
    void values(const double* img, double* out) const {
        for (std::size_t k = 0; k < terms_.size(); ++k) {
            const RegTerm& t = terms_[k];
            double v = 0.0;
            if (t.weight != 0.0)
                for (int c = 0; c < channels_; ++c)
                    v += reinterpret_cast<RegValueFn>(t.value)(img + plane(c), h_, w_, t.params.data());
            if (!std::isfinite(v)) fail(static_cast<int>(k), img, -1, 0.0);
            out[k] = v;
        }
    }

    // Each term's change (unweighted) when pixel i becomes new_value: out[k].
    void deltas(const double* img, std::int64_t i, double new_value, double* out) const {
        const std::int64_t c = i / (static_cast<std::int64_t>(h_) * w_);
        const std::int64_t j = i - c * h_ * w_;
        for (std::size_t k = 0; k < terms_.size(); ++k) {
            const RegTerm& t = terms_[k];
            double d = 0.0;
            if (t.weight != 0.0)
                d = reinterpret_cast<RegDeltaFn>(t.delta)(img + plane(static_cast<int>(c)), h_, w_, j,
                                                         new_value, t.params.data());
            if (!std::isfinite(d)) fail(static_cast<int>(k), img, i, new_value);
            out[k] = d;
        }
    }

    // The weighted penalty sum_k weight_k * (values[k] + deltas[k]) (deltas may be null).
    double penalty(const double* values, const double* deltas = nullptr) const {
        double total = 0.0;
        for (std::size_t k = 0; k < terms_.size(); ++k)
            total += terms_[k].weight * (deltas ? values[k] + deltas[k] : values[k]);
        return total;
    }

    // The weighted value of img.
    double value(const double* img) const {
        std::vector<double> v(terms_.size());
        values(img, v.data());
        return penalty(v.data());
    }

private:
    std::size_t plane(int c) const { return static_cast<std::size_t>(c) * h_ * w_; }
    [[noreturn]] void fail(int k, const double* img, std::int64_t i, double nv) const {
        throw RegularizerError(k, std::vector<double>(img, img + plane(channels_)), i, nv,
                               terms_[k].name);
    }

    std::vector<RegTerm> terms_;
    int channels_ = 1, h_ = 0, w_ = 0;
    bool active_ = false;
};

}  // namespace netdream
