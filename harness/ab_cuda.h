/* ab_cuda.h — the one way CUDA and cuBLASLt calls are checked: a failure becomes an
 * ab_status (AB_ENOMEM for allocation failures, else AB_EFAIL) with a message naming the
 * call, the file and the line. For C host code and .cu files alike. */
#ifndef AB_CUDA_H
#define AB_CUDA_H

#include "accelbench.h"

#include <cuda_runtime_api.h>

#define AB_CUDA_TRY(call, err)                                                                               \
    do {                                                                                                     \
        cudaError_t ab_e_ = (call);                                                                          \
        if (ab_e_ != cudaSuccess) {                                                                          \
            (void)cudaGetLastError();                                                                        \
            return ab_fail((err), ab_e_ == cudaErrorMemoryAllocation ? AB_ENOMEM : AB_EFAIL,                 \
                           "%s: %s (%s:%d)", #call, cudaGetErrorString(ab_e_), __FILE__, __LINE__);          \
        }                                                                                                    \
    } while (0)

/* After a kernel launch: the launch error, if any. */
#define AB_CUDA_TRY_LAUNCH(err) AB_CUDA_TRY(cudaGetLastError(), err)

/* cuBLASLt: status codes are ints here so that C files need not include cublasLt.h. */
#define AB_CUBLAS_TRY(call, err)                                                                             \
    do {                                                                                                     \
        int ab_s_ = (int)(call);                                                                             \
        if (ab_s_ != 0)                                                                                      \
            return ab_fail((err),                                                                            \
                           ab_s_ == 3 /* CUBLAS_STATUS_ALLOC_FAILED */ ? AB_ENOMEM                           \
                           : ab_s_ == 15 /* CUBLAS_STATUS_NOT_SUPPORTED */                                   \
                               ? AB_EUNSUPPORTED                                                             \
                               : AB_EFAIL,                                                                   \
                           "%s: cuBLAS status %d (%s:%d)", #call, ab_s_, __FILE__, __LINE__);                \
    } while (0)

#endif /* AB_CUDA_H */
