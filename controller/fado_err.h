/*
 * fado_err: the error value domain code returns. It says what kind of
 * failure it is, which input field it is about and a message a user can
 * act on; the API handlers turn the kind into an HTTP status (fado_api.c),
 * main and the workers into a log line. Nothing here knows HTTP.
 */

#ifndef FADO_ERR_H
#define FADO_ERR_H

typedef enum {
    FADO_ERR_NONE = 0,
    FADO_ERR_INVALID,           /* the input is wrong: the caller must change it */
    FADO_ERR_NOT_FOUND,
    FADO_ERR_CONFLICT,          /* the state does not allow it now */
    FADO_ERR_UNKNOWN,           /* names a zone, cluster, ... that does not exist */
    FADO_ERR_UNAVAILABLE,       /* PostgreSQL (or a store) is away: retry */
    FADO_ERR_INTERNAL           /* out of memory, a bug: logged where it happens */
} fado_err_kind_e;

typedef struct {
    fado_err_kind_e   kind;
    const char       *code;             /* static: "invalid_event", ... */
    char              field[128];       /* "" when about no one field */
    char              message[512];
} fado_err_t;

void fado_err_set(fado_err_t *err, fado_err_kind_e kind, const char *code,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif /* FADO_ERR_H */
