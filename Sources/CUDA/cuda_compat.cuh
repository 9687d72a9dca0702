// One source, two executions (spec/plugin-abi.md §5): under nvcc the CUDA runtime and <<<>>> launches; under a host
// compiler the emulation of host/cuda_host.h. Every kernel launch goes through ASSAY_LAUNCH, so both compile every
// line of kernel code. Both take cuda_bf16.h and cuda_fp8.h from CUDA (on the host: the PyPI wheels' include folder).
#pragma once

#ifdef __CUDACC__
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#define ASSAY_LAUNCH(kernel, grid, block, ...) kernel<<<(grid), (block)>>>(__VA_ARGS__)
#else
#include "host/cuda_host.h"
#define ASSAY_LAUNCH(kernel, grid, block, ...) cuda_host::launch((grid), (block), [=] { kernel(__VA_ARGS__); })
#endif
