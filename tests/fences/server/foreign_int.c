/* server/ reading another module's private header and SQLite directly. */
#include <sqlite3.h>
#include "engine/store/store_int.h"
