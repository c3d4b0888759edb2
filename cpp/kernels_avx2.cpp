// The kernels for the avx2 instruction set (flags set in CMakeLists.txt).
#define ND_ISA_NS isa_avx2
#define ND_ISA_NAME "avx2"
#define ND_VEC_FLOATS 8
#include "kernels.inl"
