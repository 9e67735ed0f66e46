/*
 * fado_err: filling in a domain error value (see fado_err.h).
 */

#include "fado_err.h"

#include <stdarg.h>
#include <stdio.h>

void
fado_err_set(fado_err_t *err, fado_err_kind_e kind, const char *code, const char *field,
    const char *fmt, ...)
{
    va_list  ap;

    err->kind = kind;
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}
