// The gradient of a class objective with respect to the input, by
// backpropagation through the MLP in double precision. Plain C++.
#pragma once

#include "netdream/net.hpp"

namespace netdream {

// Objectives to maximise: log p_t, p_t, the margin z_t - max_{k != t} z_k,
// or the logit z_t.
enum class GradObjective : int { LogProb = 0, Prob = 1, Margin = 2, Logit = 3 };

// For one input x (n_in doubles): writes dJ/dx into grad (n_in) and returns J.
double input_gradient(const Net& net, const double* x, int target, GradObjective obj,
                      double* grad);

}  // namespace netdream
