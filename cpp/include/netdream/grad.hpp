// The gradient of a goal's score with respect to the input, by
// backpropagation in double precision. Plain C++: no Python.
#pragma once

#include "netdream/net.hpp"
#include "netdream/objective.hpp"

namespace netdream {

// For one input x (n_in doubles): writes d score / dx into grad (n_in) and
// returns the score (objective.hpp; a class goal or a hidden unit).
double input_gradient(const Net& net, const double* x, const Goal& goal, double* grad);

}  // namespace netdream
