/*
 * Unit test of the route record decoder: every grammar rule of
 * docs/routing-contract.md (contracts 1 and 2) accepted and rejected at
 * least once, plus hostile bytes.
 */

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "frc_record.h"
#include "tap.h"


/* Every check is one TAP assertion (t/unit/tap.h), counted by run-tests. */
#define CHECK(cond, ...)  ok((cond), __VA_ARGS__)


static int
decode(const char *s, frc_record_head_t *h,
    frc_record_endpoint_t *eps, size_t *n, char *err)
{
    if (frc_record_head(s, strlen(s), h, err) != 0) {
        return -1;
    }

    return frc_record_endpoints(h->endpoints, h->endpoints_len,
                                eps, 8, n, err);
}


static void
test_accepts_contract_example(void)
{
    frc_record_head_t      h;
    frc_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[FRC_ERR_LEN];
    const char                      *s;

    s = "F1 42 - 127.0.0.1:18031,eu-1,eu,1,4 127.0.0.1:18032,eu-1,eu,1,4 "
        "127.0.0.1:18035,us-1,us,2,8";

    CHECK(decode(s, &h, eps, &n, err) == 0, "example rejected: %s", err);
    CHECK(h.version == 42, "version %llu", (unsigned long long) h.version);
    CHECK(h.policy == FRC_POLICY_DEFAULT, "policy %d", h.policy);
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
    frc_record_head_t      h;
    frc_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[FRC_ERR_LEN];

    CHECK(decode("F1 7 chash [::1]:8080,c,z,1000,65535", &h, eps, &n, err)
          == 0, "ipv6 rejected: %s", err);
    CHECK(h.policy == FRC_POLICY_CHASH, "policy");
    CHECK(n == 1 && eps[0].sockaddr.sin6.sin6_family == AF_INET6, "ipv6");

    CHECK(decode("F1 8 lc", &h, eps, &n, err) == 0, "empty list: %s", err);
    CHECK(n == 0 && h.policy == FRC_POLICY_LC, "empty list n");
}


/* Every policy token decodes to its own value and back to its token. */
static void
test_policy_tokens(void)
{
    static const struct {
        const char  *token;
        int          policy;
    } t[] = {
        { "-", FRC_POLICY_DEFAULT },
        { "rr", FRC_POLICY_RR },
        { "lc", FRC_POLICY_LC },
        { "p2c", FRC_POLICY_P2C },
        { "ewma", FRC_POLICY_EWMA },
        { "chash", FRC_POLICY_CHASH },
        { "random", FRC_POLICY_RANDOM },
        { "first", FRC_POLICY_FIRST },
    };
    frc_record_head_t      h;
    frc_record_endpoint_t  eps[8];
    size_t                           n, i;
    char                             err[FRC_ERR_LEN], rec[64];

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(rec, sizeof(rec), "F1 3 %s 127.0.0.1:80,c,z,1,0", t[i].token);
        CHECK(decode(rec, &h, eps, &n, err) == 0 && h.policy == t[i].policy
              && n == 1, "%s decodes: %s", t[i].token, err);
        CHECK(strcmp(frc_record_policy_name(t[i].policy),
                     t[i].token) == 0, "%s named back", t[i].token);
    }

    CHECK(frc_record_policy("firs", 4) == -1, "prefix refused");
    CHECK(frc_record_policy("random1", 7) == -1, "longer refused");
    CHECK(strcmp(frc_record_policy_name(FRC_POLICY_LAST + 1),
                 "?") == 0, "out of range");
}


static void
test_rejects(const char *s, const char *expect)
{
    frc_record_head_t      h;
    frc_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[FRC_ERR_LEN];

    err[0] = '\0';
    CHECK(decode(s, &h, eps, &n, err) == -1, "rejects \"%s\"", s);
    if (!CHECK(strstr(err, expect) != NULL, "error names \"%s\"", expect)) {
        diag("error was \"%s\"", err);
    }
}


static void
test_f2(void)
{
    frc_record_head_t  h;
    frc_record_name_t  names[4];
    size_t                       n;
    char                         err[FRC_ERR_LEN];
    const char                  *s;

    s = "F2 58 - eu-1 us-1";
    CHECK(frc_record_head(s, strlen(s), &h, err) == 0,
          "F2 head: %s", err);
    CHECK(h.contract == 2 && h.version == 58
          && h.policy == FRC_POLICY_DEFAULT, "F2 head fields");
    CHECK(frc_record_clusters(h.endpoints, h.endpoints_len, names,
                              4, &n, err) == 0, "F2 clusters: %s",
          err);
    CHECK(n == 2 && names[1].len == 4 && memcmp(names[1].name, "us-1", 4) == 0,
          "F2 cluster names");

    s = "F1 3 -";
    CHECK(frc_record_head(s, strlen(s), &h, err) == 0
          && h.contract == 1, "F1 is contract 1");

    s = "F2 59 p2c";
    CHECK(frc_record_head(s, strlen(s), &h, err) == 0
          && frc_record_clusters(h.endpoints, h.endpoints_len,
                                 names, 4, &n, err) == 0
          && n == 0 && h.policy == FRC_POLICY_P2C,
          "F2 with no cluster");
}


static void
test_f2_rejects(const char *s, const char *expect)
{
    frc_record_head_t  h;
    frc_record_name_t  names[4];
    size_t                       n;
    char                         err[FRC_ERR_LEN];
    int                          rc;

    err[0] = '\0';
    rc = frc_record_head(s, strlen(s), &h, err);
    if (rc == 0) {
        rc = frc_record_clusters(h.endpoints, h.endpoints_len,
                                 names, 4, &n, err);
    }

    CHECK(rc == -1, "F2 rejects \"%s\"", s);
    if (!CHECK(strstr(err, expect) != NULL, "error names \"%s\"", expect)) {
        diag("error was \"%s\"", err);
    }
}


static void
test_c2(void)
{
    frc_record_cluster_t   c;
    frc_record_endpoint_t  eps[4];
    size_t                           n;
    char                             err[FRC_ERR_LEN];
    const char                      *s;

    s = "C2 57 eu up 127.0.0.1:18031,1,4 127.0.0.1:18032,1,4";
    CHECK(frc_record_cluster(s, strlen(s), &c, err) == 0,
          "C2 example: %s", err);
    CHECK(c.version == 57 && c.up == 1 && c.n == 2 && c.zone_len == 2
          && memcmp(c.zone, "eu", 2) == 0, "C2 fields");
    CHECK(c.endpoints_len == strlen("127.0.0.1:18031,1,4 127.0.0.1:18032,1,4"),
          "C2 endpoint text");
    CHECK(frc_record_endpoints2(c.endpoints, c.endpoints_len, eps, 4,
                                &n, err) == 0
          && n == 2 && eps[1].weight == 1 && eps[1].max_inflight == 4
          && ntohs(eps[1].sockaddr.sin.sin_port) == 18032
          && eps[1].cluster == NULL, "C2 endpoints");

    s = "C2 9 us down";
    CHECK(frc_record_cluster(s, strlen(s), &c, err) == 0
          && c.up == 0 && c.n == 0, "C2 down, no endpoint");

    s = "C2 10 asia up [::1]:9000,1000,0";
    CHECK(frc_record_cluster(s, strlen(s), &c, err) == 0
          && c.n == 1, "C2 ipv6: %s", err);

    /* a cluster in several zones (contract item 1): the list as published */
    err[0] = '\0';
    s = "C2 11 global+zone-1 up 127.0.0.1:9101,1,0";
    CHECK(frc_record_cluster(s, strlen(s), &c, err) == 0
          && c.zone_len == strlen("global+zone-1")
          && memcmp(c.zone, "global+zone-1", c.zone_len) == 0 && c.n == 1,
          "C2 with a zone list: %s", err);
    s = "F1 3 - 127.0.0.1:80,c1,global+zone-1,1,0";
    CHECK(frc_record_endpoints(s + 7, strlen(s + 7), eps, 4, &n, err) == 0
          && n == 1 && eps[0].zone_len == strlen("global+zone-1"),
          "an F1 endpoint takes a zone list too (the gateway's C2 join): %s", err);
}


/* 16 zones of 63 characters: the longest list; one more is refused. */
static void
test_c2_zone_lists(void)
{
    static char                      rec[2048];
    frc_record_cluster_t   c;
    char                             err[FRC_ERR_LEN];
    size_t                           len;

    err[0] = '\0';
    len = (size_t) snprintf(rec, sizeof(rec), "C2 1 ");
    for (int i = 0; i < 16; i++) {
        len += (size_t) snprintf(rec + len, sizeof(rec) - len, "%s%02d%061d", i ? "+" : "",
                                 i, 0);
    }
    len += (size_t) snprintf(rec + len, sizeof(rec) - len, " up");
    CHECK(frc_record_cluster(rec, len, &c, err) == 0
          && c.zone_len == 16 * 64 - 1, "sixteen zones of 63 characters: %s", err);
    memcpy(rec + len - 3, "+zz up", 6);
    CHECK(frc_record_cluster(rec, len + 3, &c, err) == -1
          && strstr(err, "invalid zone") != NULL, "a seventeenth zone is refused");
}


static void
test_c2_rejects(const char *s, size_t len, const char *expect)
{
    frc_record_cluster_t  c;
    char                            err[FRC_ERR_LEN];

    err[0] = '\0';
    CHECK(frc_record_cluster(s, len, &c, err) == -1,
          "C2 rejects \"%.*s\"", (int) (len > 40 ? 40 : len), s);
    if (!CHECK(strstr(err, expect) != NULL, "error names \"%s\"", expect)) {
        diag("error was \"%s\"", err);
    }
}


/* Contract 2.1: an endpoint's origin ",scheme,host,prefix". */
static void
test_origin(void)
{
    frc_record_cluster_t   c;
    frc_record_head_t      h;
    frc_record_endpoint_t  eps[8];
    size_t                           n;
    char                             err[FRC_ERR_LEN];
    const char                      *s;

    s = "C2 3 eu up 127.0.0.1:8443,1,4,https,fn.example,/api/v1"
        " 127.0.0.1:8080,2,0 127.0.0.2:80,1,0,http,-,-";
    CHECK(frc_record_cluster(s, strlen(s), &c, err) == 0 && c.n == 3,
          "C2 with origins: %s", err);
    CHECK(frc_record_endpoints2(c.endpoints, c.endpoints_len, eps, 4,
                                &n, err) == 0 && n == 3, "origins decode");
    CHECK(eps[0].https == 1 && eps[0].host_len == 10
          && memcmp(eps[0].host, "fn.example", 10) == 0 && eps[0].prefix_len == 7
          && memcmp(eps[0].prefix, "/api/v1", 7) == 0 && eps[0].max_inflight == 4,
          "https, name and prefix");
    CHECK(eps[1].origin_len == 0 && eps[1].https == 0 && eps[1].host == NULL
          && eps[1].prefix == NULL && eps[1].weight == 2, "the old form: http, none");
    CHECK(eps[2].origin_len > 0 && eps[2].https == 0 && eps[2].host == NULL
          && eps[2].prefix == NULL, "'-' for no host and no prefix");

    /* the gateway joins F2 through F1 text: F1 takes the origin too */
    s = "F1 1 - 127.0.0.1:8443,c,z,1,4,https,fn.example,-";
    CHECK(decode(s, &h, eps, &n, err) == 0 && n == 1 && eps[0].https == 1,
          "F1 with an origin: %s", err);

    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,ftp,-,-", 33, "invalid scheme");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,https,-", 33, "too many fields");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,https,-,-,x", 37, "too many fields");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,https,a_b,-", 37, "invalid endpoint host");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,https,-a,-", 36, "invalid endpoint host");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,https,a..b,-", 38, "invalid endpoint host");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,http,-,api", 36, "invalid endpoint prefix");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,http,-,/a/", 36, "invalid endpoint prefix");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,1,http,-,/a?b", 37, "invalid endpoint prefix");
}


static void
test_hostile(void)
{
    static char  big[FRC_RECORD_MAX + 16];
    const char   nul[] = "C2 1 eu up 127.0.0.1:80,1,1\0 127.0.0.1:81,1,1";
    const char   nulf[] = "F2 1 - eu\0-1";
    size_t       i, len;

    /* NUL and control bytes are not separators: the token is invalid */
    test_c2_rejects(nul, sizeof(nul) - 1, "invalid max_inflight");
    test_f2_rejects("F2 1 - eu\n-1", "invalid cluster");
    test_f2_rejects("F2 1 - eu\x1b[31m", "invalid cluster");
    test_f2_rejects("F2 1 - caf\xc3\xa9", "invalid cluster");

    {
        frc_record_head_t  h;
        frc_record_name_t  names[4];
        size_t                       n;
        char                         err[FRC_ERR_LEN];

        CHECK(frc_record_head(nulf, sizeof(nulf) - 1, &h, err) == 0
              && frc_record_clusters(h.endpoints, h.endpoints_len,
                                     names, 4, &n, err) == -1,
              "F2 with a NUL inside a cluster name rejected");
    }

    /* over the size limit */
    memcpy(big, "C2 1 eu up ", 11);
    for (i = 11; i < sizeof(big); i++) {
        big[i] = (i % 20 == 0) ? ' ' : '1';
    }
    test_c2_rejects(big, sizeof(big), "exceeds");

    /* more clusters than the module takes */
    len = (size_t) snprintf(big, sizeof(big), "F2 1 -");
    for (i = 0; i < 5; i++) {
        len += (size_t) snprintf(big + len, sizeof(big) - len, " c%zu", i);
    }
    test_f2_rejects(big, "more than 4 clusters");

    /* a version that overflows 64 bits */
    test_c2_rejects("C2 18446744073709551616 eu up", 29, "invalid version");
    test_f2_rejects("F2 99999999999999999999 -", "invalid version");
}


static void
test_bucket_names(void)
{
    CHECK(frc_record_bucket_valid("photos", 6), "photos");
    CHECK(frc_record_bucket_valid("a.b-1", 5), "a.b-1");
    CHECK(!frc_record_bucket_valid("ab", 2), "too short");
    CHECK(!frc_record_bucket_valid("Photos", 6), "upper case");
    CHECK(!frc_record_bucket_valid("a_b_c", 5), "underscore");
    CHECK(!frc_record_bucket_valid("-photos", 7), "leading hyphen");
    CHECK(!frc_record_bucket_valid("photos.", 7), "trailing dot");
    CHECK(!frc_record_bucket_valid("a..b", 4), "two dots");
    CHECK(frc_record_bucket_valid("a.b.c", 5), "single dots");
    CHECK(frc_record_bucket_valid("abc", 3), "three letters");
    CHECK(!frc_record_bucket_valid(
              "a234567890123456789012345678901234567890123456789012345678901234",
              64), "64 characters");

    /* bucket_header values */
    CHECK(frc_record_header_valid("X-Fado-Bucket", 13), "header");
    CHECK(!frc_record_header_valid("X_Fado", 6), "underscore header");
    CHECK(!frc_record_header_valid("X Fado", 6), "space header");
    CHECK(!frc_record_header_valid("", 0), "empty header");
}


int
main(void)
{
    test_accepts_contract_example();
    test_accepts_ipv6_policy_and_empty_list();
    test_policy_tokens();

    test_rejects("F3 1 -", "unknown record tag \"F3\"");
    test_rejects("C2 1 -", "unknown record tag \"C2\"");
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

    test_f2();
    test_f2_rejects("F2 1 - eu-1 eu-1", "cluster listed twice \"eu-1\"");
    test_f2_rejects("F2 1 - eu-1  us-1", "empty token");
    test_f2_rejects("F2 1 - eu-1 ", "trailing space");
    test_f2_rejects("F2 1 - eu/1", "invalid cluster \"eu/1\"");
    test_f2_rejects("F2 1 x eu-1", "invalid policy \"x\"");
    test_f2_rejects("F2 1 - 127.0.0.1:80,c,z,1,1", "invalid cluster");

    test_c2();
    test_c2_rejects("C2", 2, "record ends after its tag");
    test_c2_rejects("C2 x eu up", 10, "invalid version \"x\"");
    test_c2_rejects("C2 1", 4, "record ends after its version");
    test_c2_rejects("C2 1 e/u up", 11, "invalid zone \"e/u\"");
    test_c2_rejects("C2 1 eu+ up", 11, "invalid zone \"eu+\"");
    test_c2_rejects("C2 1 +eu up", 11, "invalid zone \"+eu\"");
    test_c2_rejects("C2 1 eu++us up", 14, "invalid zone");
    test_c2_zone_lists();
    test_c2_rejects("C2 1 eu", 7, "record ends after its zone");
    test_c2_rejects("C2 1 eu sleeping", 16, "invalid state");
    test_c2_rejects("C2 1 eu up ", 11, "trailing space");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1", 23, "endpoint needs");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,c,z,1,1", 29, "too many fields");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,0,1", 25, "invalid weight \"0\"");
    test_c2_rejects("C2 1 eu up 1.2.3.4:80,1,70000", 29,
                    "invalid max_inflight");
    test_c2_rejects("C2 1 eu up host:80,1,1", 22, "invalid endpoint address");
    test_c2_rejects("F1 1 -", 6, "unknown cluster record tag \"F1\"");
    test_hostile();
    test_origin();

    test_bucket_names();

    return done_testing();
}
