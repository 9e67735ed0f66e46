/*
 * fado_auth: API tokens. Secrets are stored as SHA-256 hashes and checked
 * against an in-memory set of valid ones (fado_auth.c says when PostgreSQL
 * is asked), so the transport authenticates a request from its headers
 * before reading its body.
 */

#ifndef FADO_AUTH_H
#define FADO_AUTH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "fado_db.h"
#include "fado_http.h"

void fado_auth_hash(const char *secret, char hex[65]);
int fado_auth_new_secret(char *out, size_t size);
fado_role_e fado_auth_check(fado_db_t *db, const char *authorization);
void fado_auth_invalidate(void);
int fado_auth_bootstrap(PGconn *conn, const char *secret, char *err, size_t err_len);

#endif /* FADO_AUTH_H */
