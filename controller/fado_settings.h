/*
 * fado_settings: the platform's settings (the default routing policy and
 * the header naming a request's bucket), which the publisher puts into
 * every gateway's default record. Domain functions; the handler is
 * fado_api_settings.c.
 */

#ifndef FADO_SETTINGS_H
#define FADO_SETTINGS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "fado_err.h"

/* Every setting as {key: value}, or NULL with err: unavailable, internal. */
json_t *fado_settings_get(PGconn *conn, fado_err_t *err);

/*
 * Sets what is not NULL, already checked by the caller: policy a
 * route-record policy token, header a header name the gateway accepts.
 * 0, or -1 with err.
 */
int fado_settings_put(PGconn *conn, const char *policy, const char *header, fado_err_t *err);

#endif /* FADO_SETTINGS_H */
