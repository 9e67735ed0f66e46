/*
 * Function endpoint forms the API accepts (fado_valid_endpoint,
 * docs/controller.md "Function endpoints"): what each part becomes, and
 * that every bad part is refused with a reason naming it.
 */

#include "fado_valid.h"
#include "tap.h"

#include <string.h>

static void
accepts(const char *s, int https, int named, const char *host, int port, const char *path)
{
    fado_endpoint_t  ep;
    const char      *why = fado_valid_endpoint(s, &ep);

    ok(why == NULL && ep.https == https && ep.named == named && strcmp(ep.host, host) == 0
       && ep.port == port && strcmp(ep.path, path) == 0,
       "accepts %s -> %s %s:%d \"%s\"%s", s, https ? "https" : "http", host, port, path,
       named ? " (a name)" : "");
    if (why != NULL) {
        diag("refused: %s", why);
    }
}

static void
refuses(const char *s, const char *part)
{
    fado_endpoint_t  ep;
    const char      *why = fado_valid_endpoint(s, &ep);

    ok(why != NULL && strstr(why, part) != NULL, "refuses \"%s\" naming the %s", s, part);
    if (why != NULL && strstr(why, part) == NULL) {
        diag("reason: %s", why);
    }
}

int
main(void)
{
    plan(37);

    accepts("127.0.0.1:9001", 0, 0, "127.0.0.1", 9001, "");
    accepts("[::1]:9001", 0, 0, "::1", 9001, "");
    accepts("http://127.0.0.1:9002/function", 0, 0, "127.0.0.1", 9002, "/function");
    accepts("http://faas1:9100", 0, 1, "faas1", 9100, "");
    accepts("HTTP://FaaS1.Example.COM", 0, 1, "faas1.example.com", 80, "");
    accepts("https://fn.example", 1, 1, "fn.example", 443, "");
    accepts("https://fn.example:8443/api/v1/", 1, 1, "fn.example", 8443, "/api/v1");
    accepts("https://[2001:db8::1]:8443/x", 1, 0, "2001:db8::1", 8443, "/x");
    accepts("http://localhost/", 0, 1, "localhost", 80, "");
    accepts("http://fn-1.svc.cluster.local:8080/p%20q/a@b;c=d", 0, 1,
            "fn-1.svc.cluster.local", 8080, "/p%20q/a@b;c=d");

    refuses("ftp://fn.example", "scheme");
    refuses("fn.example:80", "host");
    refuses("http://", "host");
    refuses("http://:80", "host");
    refuses("http://user:pw@fn.example", "host");
    refuses("http://fn_1.example", "host");
    refuses("http://-fn.example", "host");
    refuses("http://fn-.example", "host");
    refuses("http://fn..example", "host");
    refuses("http://10.1.2.300", "host");
    refuses("http://[::1", "host");
    refuses("http://[fe80::zz]:80", "host");
    {
        char  longname[300] = "http://";

        for (int i = 0; i < 64; i++) {
            strcat(longname, "abc.");       /* 7 + 256 characters of name */
        }
        strcat(longname, "d");
        refuses(longname, "host");
    }
    refuses("127.0.0.1", "port");
    refuses("127.0.0.1:0", "port");
    refuses("http://fn.example:65536", "port");
    refuses("http://fn.example:80x", "port");
    refuses("http://fn.example:", "port");
    refuses("127.0.0.1:80/api", "path");
    refuses("http://fn.example/a,b", "path");
    refuses("http://fn.example/a b", "path");
    refuses("http://fn.example/a?x=1", "path");
    refuses("http://fn.example?x=1", "query");
    refuses("http://fn.example/a//b", "path");
    refuses("http://fn.example/a/../b", "path");
    refuses("http://fn.example/%zz", "path");
    refuses("http://fn.example/a\x01", "control");
    return done_testing();
}
