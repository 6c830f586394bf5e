/* store_tmp.h — what the store's unit tests share: a private temporary directory for their database files
 * (made by store_tmp_init, removed with its files by store_tmp_remove), an opened and migrated store on a
 * file in it, and raw SQLite access to a file (to build old schemas, or to read what the store wrote).
 * Include it once per test program, after unit.h. */
#ifndef IG_TESTS_STORE_TMP_H
#define IG_TESTS_STORE_TMP_H

#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

/* Makes /tmp/<prefix>-XXXXXX with umask 077 (raw sqlite3 handles create files too: keep them private like
 * the store does). false (and a message) when it cannot. */
static inline bool store_tmp_init(const char *prefix)
{
    umask(077);
    snprintf(g_dir, sizeof g_dir, "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(g_dir)) return true;
    perror("mkdtemp");
    return false;
}

static inline const char *tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static inline ig_store_t *open_db(const char *name)
{
    char path[128];
    int err = -1;
    ig_store_t *st = ig_store_open(tmp_path(path, sizeof path, name), &err);
    CHECK(st != NULL);
    CHECK_EQ_INT(err, IG_OK);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* Runs sql on the file with a plain SQLite handle: the SQLite result code. */
static inline int raw_exec(const char *name, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    int src = sqlite3_open(tmp_path(path, sizeof path, name), &db);
    if (src == SQLITE_OK) src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return src;
}

/* The first column of the first row of sql on the file; -1 when there is none. */
static inline int64_t raw_int(const char *name, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(tmp_path(path, sizeof path, name), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* Removes the directory and the files in it. */
static inline void store_tmp_remove(void)
{
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(g_dir);
}

#endif
