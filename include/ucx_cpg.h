/*
 * ucx_cpg.h - native entry points of libucx_cpg.
 *
 * The library's real interfaces are the two classic APIs it implements,
 * <rsmapi.h> and <corosync/cpg.h>. This header only identifies the library.
 */
#ifndef UCX_CPG_H
#define UCX_CPG_H

#ifdef __cplusplus
extern "C" {
#endif

#define UCX_CPG_VERSION_MAJOR 0
#define UCX_CPG_VERSION_MINOR 1
#define UCX_CPG_VERSION_PATCH 0

#if defined(__GNUC__)
#define UCX_CPG_API __attribute__((visibility("default")))
#else
#define UCX_CPG_API
#endif

/* "0.1.0" */
UCX_CPG_API const char *ucx_cpg_version(void);

/* Build configuration, e.g. "debug=no sanitizers=no tsan=no pmix=yes ompi=yes" */
UCX_CPG_API const char *ucx_cpg_build_config(void);

#ifdef __cplusplus
}
#endif

#endif
