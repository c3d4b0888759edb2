// The kernels for the avx512 instruction set (flags set in CMakeLists.txt).
#define ND_ISA_NS isa_avx512
#define ND_ISA_NAME "avx512"
#define ND_VEC_FLOATS 16
#include "kernels.inl"
