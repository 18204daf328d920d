/* version.c - identification of the library (include/ucx_cpg.h). */
#include "ucx_cpg.h"

const char *ucx_cpg_version(void)
{
    return PACKAGE_VERSION;
}

const char *ucx_cpg_build_config(void)
{
    return UCPG_BUILD_CONFIG;
}
