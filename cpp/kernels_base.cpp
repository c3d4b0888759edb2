// The kernels for the base instruction set (flags set in CMakeLists.txt).
#define ND_ISA_NS isa_base
#define ND_ISA_NAME "base"
#define ND_VEC_FLOATS 4
#include "kernels.inl"
