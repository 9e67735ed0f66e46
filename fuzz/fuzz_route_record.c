/*
 * libFuzzer target: the route record decoder the nginx module runs on what
 * it reads from Redis (ngx_fado_module/ngx_http_fado_record.c, compiled in
 * as it is): bucket records of contract 1 (F1, endpoints) and 2 (F2,
 * cluster names), and cluster records (C2).
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
    if (ngx_http_fado_record_head(copy, size, &head, err) == 0 && head.contract == 2) {
        /* F2: a bucket's record lists cluster names */
        static ngx_http_fado_record_name_t  names[NGX_HTTP_FADO_MAX_CLUSTERS];

        if (ngx_http_fado_record_clusters(head.endpoints, head.endpoints_len, names,
                                          NGX_HTTP_FADO_MAX_CLUSTERS, &n, err) == 0)
        {
            for (size_t i = 0; i < n; i++) {
                if (!ngx_http_fado_record_label_valid(names[i].name, names[i].len)) {
                    abort();
                }
            }
        }
    } else if (ngx_http_fado_record_head(copy, size, &head, err) == 0) {
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
    {
        /* C2: a cluster's record, endpoints included */
        ngx_http_fado_record_cluster_t  cl;

        if (ngx_http_fado_record_cluster(copy, size, &cl, err) == 0
            && ngx_http_fado_record_endpoints2(cl.endpoints, cl.endpoints_len, eps,
                                               NGX_HTTP_FADO_MAX_ENDPOINTS, &n, err) == 0
            && n != cl.n)
        {
            abort();    /* the record's count and its list must agree */
        }
    }
    (void) ngx_http_fado_record_bucket_valid(copy, size);
    (void) ngx_http_fado_record_policy(copy, size);
    free(copy);
    return 0;
}
