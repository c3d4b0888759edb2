// Genetic search for images a network is confident about ("fooling images",
// Nguyen, Yosinski & Clune 2015). Plain C++: no Python.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "netdream/live.hpp"
#include "netdream/net.hpp"
#include "netdream/objective.hpp"
#include "netdream/regularizer.hpp"

namespace netdream {

enum class Selection : int { Tournament = 0, Truncation = 1 };
enum class Crossover : int { Uniform = 0, Sbx = 1 };
enum class Mutation : int { Polynomial = 0, Gaussian = 1, Resample = 2 };
enum class GaStart : int { Noise = 0, Prior = 1 };

struct GaSpec {
    // The fitness of an individual is the goal's score of its image (for
    // MAP-Elites, of each class in turn) minus the weighted regulariser.
    Goal goal;
    bool map_elites = false;        // one elite per class (goal.index is ignored)
    int population = 200;
    std::int64_t steps = 200;       // generations
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
    GaStart start = GaStart::Noise; // first population: uniform noise, or drawn from cdf
    std::vector<double> cdf;        // pixel-value distribution: cdf[0..bins], cdf[bins] = 1
    std::vector<RegTerm> regularizer;
    double stop_at = 2.0;           // stop once the best confidence (every cell's, for
                                    // MAP-Elites) reaches this
    bool incremental = true;        // evaluate children from their parent's layer-0 state
    std::int64_t record_every = 0;  // keep the best image every so many generations (0: never)
    std::uint64_t seed = 0;
    std::int64_t run = 0;           // independent runs of one seed use different streams
};

struct GaResult {
    std::vector<float> images;      // population (or archive) x n_in
    std::vector<double> fitness;    // per individual (or archive cell)
    std::vector<double> best, mean; // per generation (index 0: the first population)
    std::vector<float> trace_images;   // records x n_in: the best individual (MAP-Elites:
                                       // the archive's weakest cell) every record_every generations
    std::vector<double> trace_scores;  // records
    std::vector<std::int64_t> trace_steps;  // the generation of each record
    std::int64_t generations_run = 0;
    bool stopped = false;           // interrupted
};

// Checks a spec against a network (std::invalid_argument).
void check_ga(const Net& net, const GaSpec& spec);

// Runs the search on `threads` threads; progress counts generations done; stop
// interrupts (the result then holds the last complete generation). view
// (optional) gets the best individual (MAP-Elites: the archive, one row per
// class) after every generation.
GaResult evolve(const Net& net, const GaSpec& spec, int threads, const std::atomic<bool>& stop,
                std::atomic<std::int64_t>& progress, LiveView* view = nullptr);

}  // namespace netdream
