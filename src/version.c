/* version.c - the release this build is (see version.h); TWIN_VERSION comes from CMake. */
#include "version.h"

const char *twin_version(void)
{
	return TWIN_VERSION;
}
