/* version.h - the release this build is: CMake's project version (CMakeLists.txt, the one place it is
 * set), as the plugin's ready line, twinctl --version, $twin/stats and the store's refusals name it. */
#ifndef TWIN_VERSION_H
#define TWIN_VERSION_H

/* "0.2.0" */
const char *twin_version(void);

#endif
