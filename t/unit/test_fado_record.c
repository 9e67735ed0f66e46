/*
 * Unit test of the route record decoder: every grammar rule of
 * docs/routing-contract.md accepted and rejected at least once.
 */

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "ngx_http_fado_record.h"
#include "tap.h"


/* Every check is one TAP assertion (t/unit/tap.h), counted by run-tests. */
#define CHECK(cond, ...)  ok((cond), __VA_ARGS__)


static int
decode(const char *s, ngx_http_fado_record_head_t *h,
    ngx_http_fado_record_endpoint_t *eps, size_t *n, char *err)
{
    if (ngx_http_fado_record_head(s, strlen(s), h, err) != 0) {
        return -1;
    }

    return ngx_http_fado_record_endpoints(h->endpoints, h->endpoints_len,
                                          eps, 8, n, err);
}


static void
test_accepts_contract_example(void)
{
    ngx_http_fado_record_head_t      h;
    ngx_http_fado_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[NGX_HTTP_FADO_ERR_LEN];
    const char                      *s;

    s = "F1 42 - 127.0.0.1:18031,eu-1,eu,1,4 127.0.0.1:18032,eu-1,eu,1,4 "
        "127.0.0.1:18035,us-1,us,2,8";

    CHECK(decode(s, &h, eps, &n, err) == 0, "example rejected: %s", err);
    CHECK(h.version == 42, "version %llu", (unsigned long long) h.version);
    CHECK(h.policy == NGX_HTTP_FADO_POLICY_DEFAULT, "policy %d", h.policy);
    CHECK(n == 3, "n %zu", n);
    CHECK(eps[2].weight == 2 && eps[2].max_inflight == 8, "weight/max");
    CHECK(eps[2].cluster_len == 4 && memcmp(eps[2].cluster, "us-1", 4) == 0,
          "cluster");
    CHECK(eps[0].sockaddr.sin.sin_family == AF_INET
          && ntohs(eps[0].sockaddr.sin.sin_port) == 18031, "address");
}


static void
test_accepts_ipv6_policy_and_empty_list(void)
{
    ngx_http_fado_record_head_t      h;
    ngx_http_fado_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[NGX_HTTP_FADO_ERR_LEN];

    CHECK(decode("F1 7 chash [::1]:8080,c,z,1000,65535", &h, eps, &n, err)
          == 0, "ipv6 rejected: %s", err);
    CHECK(h.policy == NGX_HTTP_FADO_POLICY_CHASH, "policy");
    CHECK(n == 1 && eps[0].sockaddr.sin6.sin6_family == AF_INET6, "ipv6");

    CHECK(decode("F1 8 lc", &h, eps, &n, err) == 0, "empty list: %s", err);
    CHECK(n == 0 && h.policy == NGX_HTTP_FADO_POLICY_LC, "empty list n");
}


static void
test_rejects(const char *s, const char *expect)
{
    ngx_http_fado_record_head_t      h;
    ngx_http_fado_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[NGX_HTTP_FADO_ERR_LEN];

    err[0] = '\0';
    CHECK(decode(s, &h, eps, &n, err) == -1, "rejects \"%s\"", s);
    if (!CHECK(strstr(err, expect) != NULL, "error names \"%s\"", expect)) {
        diag("error was \"%s\"", err);
    }
}


static void
test_bucket_names(void)
{
    CHECK(ngx_http_fado_record_bucket_valid("photos", 6), "photos");
    CHECK(ngx_http_fado_record_bucket_valid("a.b-1", 5), "a.b-1");
    CHECK(!ngx_http_fado_record_bucket_valid("ab", 2), "too short");
    CHECK(!ngx_http_fado_record_bucket_valid("Photos", 6), "upper case");
    CHECK(!ngx_http_fado_record_bucket_valid("a_b_c", 5), "underscore");
}


int
main(void)
{
    test_accepts_contract_example();
    test_accepts_ipv6_policy_and_empty_list();

    test_rejects("F2 1 -", "unknown record tag \"F2\"");
    test_rejects("F1", "record ends after its tag");
    test_rejects("F1 x1 -", "invalid version \"x1\"");
    test_rejects("F1 1", "record ends after its version");
    test_rejects("F1 1 wrr", "invalid policy \"wrr\"");
    test_rejects("F1 1 - ", "trailing space");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1,0  1.2.3.4:81,c,z,1,0",
                 "empty token");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1", "endpoint needs");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1,0,9", "too many fields");
    test_rejects("F1 1 - host:80,c,z,1,0", "invalid endpoint address \"host:80\"");
    test_rejects("F1 1 - 1.2.3.4:0,c,z,1,0", "invalid endpoint address");
    test_rejects("F1 1 - 1.2.3.4:65536,c,z,1,0", "invalid endpoint address");
    test_rejects("F1 1 - [::1:80,c,z,1,0", "invalid endpoint address");
    test_rejects("F1 1 - 1.2.3.4:80,c/x,z,1,0", "invalid cluster \"c/x\"");
    test_rejects("F1 1 - 1.2.3.4:80,c,,1,0", "invalid zone \"\"");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,0,0", "invalid weight \"0\"");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1001,0", "invalid weight \"1001\"");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1,65536",
                 "invalid max_inflight \"65536\"");
    test_rejects("F1 1 - 1.2.3.4:80,c,z,1,-1", "invalid max_inflight");

    test_bucket_names();

    return done_testing();
}
