/* A store file that reaches up into the runtime: the fence check must
 * refuse it (tests/CMakeLists.txt, test fences/crossing). */
#include "engine/run/runtime.h"
#include "engine/smtp/smtp_int.h"
