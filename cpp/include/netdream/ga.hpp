// Genetic search for images a network is confident about ("fooling images",
// Nguyen, Yosinski & Clune 2015). Plain C++: no Python.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "netdream/hill.hpp"
#include "netdream/net.hpp"

namespace netdream {

enum class Selection : int { Tournament = 0, Truncation = 1 };
enum class Crossover : int { Uniform = 0, Sbx = 1 };
enum class Mutation : int { Polynomial = 0, Gaussian = 1, Resample = 2 };

struct GaSpec {
    int population = 200;
    int generations = 200;
    int elite = 2;                  // copied unchanged (class target)
    Selection selection = Selection::Tournament;
    int tournament = 3;             // tournament size
    double truncation = 0.5;        // share of the ranked population that may breed
    Crossover crossover = Crossover::Uniform;
    double crossover_rate = 0.5;    // probability that a child is bred by crossover
    double mutation_rate = 0.1;     // probability that a pixel mutates
    Mutation mutation = Mutation::Polynomial;
    double eta_mutation = 20.0;     // polynomial mutation's distribution index
    double eta_crossover = 15.0;    // SBX's distribution index
    double sigma = 0.1;             // gaussian mutation's standard deviation
    bool init_prior = false;        // first population drawn from cdf (else uniform)
    const double* cdf = nullptr;    // pixel-value distribution: cdf[0..bins], cdf[bins] = 1
    int cdf_bins = 0;
    int target = 0;                 // a class, or -1: MAP-Elites over every class
    const double* wanted = nullptr; // n_out values: fitness -sum |p - wanted|
    double reg_weight = 0.0;        // fitness -= reg_weight * reg_value(image)
    RegValueFn reg_value = nullptr;
    const double* reg_params = nullptr;
    int height = 28, width = 28;
    double stop_at = 2.0;           // stop once the best confidence (every cell's, for
                                    // MAP-Elites) reaches this
    bool incremental = true;        // evaluate children from their parent's layer-0 state
    std::uint64_t seed = 0;
    int threads = 1;
};

struct GaResult {
    std::vector<float> images;      // population (or archive) x n_in
    std::vector<double> fitness;    // per individual (or archive cell)
    std::vector<double> best, mean; // per generation (index 0: the first population)
    int generations_run = 0;
    bool stopped = false;           // interrupted
};

// Runs the search; progress counts generations done; stop interrupts.
GaResult evolve(const Net& net, const GaSpec& spec, const std::atomic<bool>& stop,
                std::atomic<std::int64_t>& progress);

}  // namespace netdream
