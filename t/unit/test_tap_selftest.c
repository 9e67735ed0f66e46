/*
 * The TAP header checks itself: each assertion macro must report a pass as
 * a pass. Failures are checked by running a failing child (this binary with
 * an argument) and reading its exit status and output.
 */

#include "tap.h"

#include <sys/wait.h>

static int child_failing(void)
{
    plan(3);
    ok(1 == 2, "a false condition");
    is_int(41, 42, "different integers");
    is_str("eu", "us", "different strings");
    return done_testing();
}

int main(int argc, char **argv)
{
    char  cmd[4096], out[4096];
    FILE *p;
    size_t n;
    int   status;

    if (argc > 1) {
        return child_failing();
    }

    plan(7);
    ok(1, "a true condition passes");
    is_int(42, 42, "equal integers pass");
    is_str("eu-1", "eu-1", "equal strings pass");
    is_str(NULL, NULL, "two NULL strings are equal");

    snprintf(cmd, sizeof(cmd), "'%s' fail 2>/dev/null", argv[0]);
    p = popen(cmd, "r");
    ok(p != NULL, "failing child started");
    if (p == NULL) {
        return done_testing();
    }
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    status = pclose(p);
    is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 3,
           "three failures give exit status 3");
    ok(strstr(out, "not ok 1 - a false condition\n") != NULL
       && strstr(out, "not ok 3 - different strings\n") != NULL,
       "failures are printed as 'not ok N - description'");
    return done_testing();
}
