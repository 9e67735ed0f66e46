/*
 * fado_policy: policy names -> route record tokens (fado_policy.h).
 */

#include "fado_policy.h"

#include <string.h>

/*
 * FaDO's balancing policies are Caddy's selection policies. random and
 * first are contract tokens themselves. ip_hash and uri_hash both become
 * chash: a record carries no hash key, the gateway's upstream does (`fado
 * policy=... hash_key=$remote_addr` for ip_hash, `hash_key=$request_uri`
 * for uri_hash; the bucket when unset), so which of the two a FaDO user
 * gets is set in nginx.conf. Refused (token NULL) where no gateway policy
 * means the same: they would route differently without saying so.
 */
static const struct {
    const char  *fado_name;
    const char  *token;
    const char  *why;
} fado_policy_aliases[] = {
    { "round_robin", "rr", NULL },
    { "weighted_round_robin", "rr", NULL },
    { "least_conn", "lc", NULL },
    { "random_choose", "p2c", NULL },       /* Caddy's default: choose 2 */
    { "ip_hash", "chash", NULL },
    { "uri_hash", "chash", NULL },
    { "header", NULL, "fado's gateway has no header-hash policy" },
    { "cookie", NULL, "fado's gateway has no cookie policy" },
};

const char *
fado_policy_lookup(const char *name, const char **why)
{
    int  p = frc_record_policy(name, strlen(name));

    if (p >= 0) {
        return frc_record_policy_name(p);
    }
    for (size_t i = 0; i < sizeof(fado_policy_aliases) / sizeof(fado_policy_aliases[0]); i++) {
        if (strcmp(name, fado_policy_aliases[i].fado_name) == 0) {
            if (why != NULL && fado_policy_aliases[i].why != NULL) {
                *why = fado_policy_aliases[i].why;
            }
            return fado_policy_aliases[i].token;
        }
    }
    if (why != NULL) {
        *why = "it is not one of " FADO_POLICY_NAMES;
    }
    return NULL;
}

const char *
fado_policy_token(const char *name)
{
    return fado_policy_lookup(name, NULL);
}
