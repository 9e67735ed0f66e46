/*
 * fado_policy: API policy names -> route record tokens (fado_policy.h).
 */

#include "fado_policy.h"
#include "ngx_http_fado_record.h"

#include <string.h>

/*
 * FaDO's load balancing names. ip_hash and uri_hash both become chash: a
 * record carries no hash key, the gateway's upstream does (`fado
 * policy=... hash_key=$remote_addr` or `hash_key=$request_uri`; the bucket
 * when unset), so which of the two a FaDO user gets is set in nginx.conf.
 */
static const struct {
    const char  *fado_name;
    const char  *token;
} fado_policy_aliases[] = {
    { "round_robin", "rr" },
    { "least_conn", "lc" },
    { "ip_hash", "chash" },
    { "uri_hash", "chash" },
};

const char *
fado_policy_token(const char *name)
{
    int  p = ngx_http_fado_record_policy(name, strlen(name));

    if (p >= 0) {
        return ngx_http_fado_record_policy_name(p);
    }
    for (size_t i = 0; i < sizeof(fado_policy_aliases) / sizeof(fado_policy_aliases[0]); i++) {
        if (strcmp(name, fado_policy_aliases[i].fado_name) == 0) {
            return fado_policy_aliases[i].token;
        }
    }
    return NULL;
}
