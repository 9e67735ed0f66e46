/*
 * Files embedded at build time (mk/controller.mk generates fado_sql.c from
 * the files in sql/ and docs/fado-publish.lua), so the binary works from anywhere
 * and the publish script has one copy.
 */

#ifndef FADO_SQL_H
#define FADO_SQL_H

#include <stddef.h>

typedef struct {
    const char  *name;
    const char  *sql;
} fado_sql_file_t;

extern const fado_sql_file_t  fado_sql_files[];
extern const size_t           fado_sql_count;
extern const char             fado_publish_lua[];

#endif /* FADO_SQL_H */
