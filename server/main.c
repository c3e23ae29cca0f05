/* SPDX-License-Identifier: MIT */
/* server/main.c: bring-up placeholder; replaced by the server module. */
#include <stdio.h>

int
main(void)
{
    puts("herald " HERALD_VERSION);
    return 0;
}
