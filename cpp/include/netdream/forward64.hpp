// The one double-precision forward pass: the exact path of the searches
// (precision="float64"), the input gradient and netdream.activations. Plain
// C++: no Python.
#pragma once

#include <vector>

#include "netdream/net.hpp"

namespace netdream {

// An activation in double precision; sigmoid is 1 / (1 + exp(-z)).
double act64(Act a, double z, double slope);
// Its derivative, from z and h = act64(a, z).
double dact64(Act a, double z, double h, double slope);

// Every layer of one forward pass in double precision: pre[l] holds layer
// l's pre-activations (out_pad values, zero beyond n_out) and post[l] its
// activations (for the last layer: the output activation, softmax included).
struct Acts64 {
    std::vector<std::vector<double>> pre, post;
    explicit Acts64(const Net& net);
};

// Layer 0's pre-activations of input x (n_in doubles): b + W0 x.
void layer0_pre64(const Net& net, const double* x, double* pre0);

// pre = init + sum_k val[k] * W0[:, idx[k]] in double precision (init may be pre).
void layer0_update64(const Net& net, const double* init, const int* idx, const double* val,
                     int n, double* pre);

// From a.pre[0] (already filled) to layer `upto` (inclusive): fills post[l]
// for l < upto and pre[l] for l <= upto; with upto = the last layer, post of
// the last layer too.
void forward64_from_pre0(const Net& net, Acts64& a, int upto);

// The whole pass of input x.
void forward64(const Net& net, const double* x, Acts64& a);

// A convolutional network's layers 0..upto (inclusive) of input x.
void conv_forward64(const Net& net, const double* x, Acts64& a, int upto);

}  // namespace netdream
