// A live view of a search in progress: the engine's workers publish
// snapshots (an image and a score per row: a run of the hill climber, the
// best individual or an archive cell of the genetic search), and the thread
// that watches them reads the newest one. Plain C++: no Python.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

namespace netdream {

class LiveView {
public:
    // rows x n pixels; called before the search starts.
    void configure(std::size_t rows, std::size_t n) {
        std::lock_guard<std::mutex> lock(m_);
        rows_ = rows;
        n_ = n;
        images_.assign(rows * n, 0.0f);
        scores_.assign(rows, 0.0);
        steps_.assign(rows, 0);
        ++version_;
    }

    // One row's image (n values), score and step count.
    template <class T>
    void publish(std::size_t row, const T* image, double score, std::int64_t step) {
        std::lock_guard<std::mutex> lock(m_);
        if (row >= rows_) return;
        std::transform(image, image + n_, images_.begin() + row * n_,
                       [](T v) { return static_cast<float>(v); });
        scores_[row] = score;
        steps_[row] = step;
        ++version_;
    }

    // Copies the newest snapshot if it changed since `seen`; returns whether it did.
    bool read(std::uint64_t& seen, std::vector<float>& images, std::vector<double>& scores,
              std::vector<std::int64_t>& steps) const {
        std::lock_guard<std::mutex> lock(m_);
        if (version_ == seen) return false;
        seen = version_;
        images = images_;
        scores = scores_;
        steps = steps_;
        return true;
    }

    std::size_t rows() const { return rows_; }
    std::size_t n() const { return n_; }

private:
    mutable std::mutex m_;
    std::size_t rows_ = 0, n_ = 0;
    std::vector<float> images_;
    std::vector<double> scores_;
    std::vector<std::int64_t> steps_;
    std::uint64_t version_ = 0;
};

}  // namespace netdream
