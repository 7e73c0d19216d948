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

/* "CUBLAS_STATUS_NOT_SUPPORTED: the functionality requested is not supported (status 15)" for
 * a cuBLAS(Lt) status code (backend_cuda.cu, from cublasLtGetStatusName/String); the text lives
 * in a thread-local buffer until the thread's next call. */
#ifdef __cplusplus
extern "C" {
#endif
const char *ab_cublas_status_text(int status);
/* Is this cudaError_t one after which the process's CUDA context is unusable (an illegal
 * address, a launch failure, an ECC error...)? A device whose synchronize returns one is lost. */
bool ab_cuda_error_is_sticky(int code);
#ifdef __cplusplus
}
#endif

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
                           "%s: %s (%s:%d)", #call, ab_cublas_status_text(ab_s_), __FILE__, __LINE__);       \
    } while (0)

#endif /* AB_CUDA_H */
