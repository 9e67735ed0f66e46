/*
 * libFuzzer target: the route record decoder the nginx module runs on what
 * it reads from Redis (ngx_fado_module/ngx_http_fado_record.c, compiled in
 * as it is).
 */

#include "ngx_http_fado_record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ngx_http_fado_record_endpoint_t  eps[NGX_HTTP_FADO_MAX_ENDPOINTS];
    ngx_http_fado_record_head_t             head;
    char                                    err[NGX_HTTP_FADO_ERR_LEN];
    size_t                                  n = 0;
    char                                   *copy;

    if (size > NGX_HTTP_FADO_RECORD_MAX) {
        return 0;
    }
    /* An exact-size heap copy: ASan sees any read past the record. */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    if (ngx_http_fado_record_head(copy, size, &head, err) == 0) {
        (void) ngx_http_fado_record_policy_name(head.policy);
        if (ngx_http_fado_record_endpoints(head.endpoints, head.endpoints_len, eps,
                                           NGX_HTTP_FADO_MAX_ENDPOINTS, &n, err) == 0)
        {
            for (size_t i = 0; i < n; i++) {
                if (eps[i].addr_len == 0 || eps[i].weight < 1 || eps[i].weight > 1000) {
                    abort();    /* the decoder promised a usable endpoint */
                }
            }
        }
    }
    (void) ngx_http_fado_record_bucket_valid(copy, size);
    (void) ngx_http_fado_record_policy(copy, size);
    free(copy);
    return 0;
}
