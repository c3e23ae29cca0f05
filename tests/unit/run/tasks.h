/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/tasks.h: how many threads of this process have a name
 * (ps -L), for the tests of threads that start and end on their own.
 * Include after cmocka.h.
 */
#ifndef HERALD_TEST_TASKS_H
#define HERALD_TEST_TASKS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int
tasks_named(const char *name)
{
    DIR           *d = opendir("/proc/self/task");
    struct dirent *de;
    char           path[300], comm[32];
    FILE          *f;
    int            n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(comm, sizeof(comm), f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

#endif
