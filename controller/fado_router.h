/*
 * fado_router: the controller's route table, handed to the HTTP transport
 * (fado_http.c) at start. It says which paths exist, who may call them and
 * which handler answers; the transport knows none of it.
 */

#ifndef FADO_ROUTER_H
#define FADO_ROUTER_H

#include "fado_http.h"

extern const fado_route_t  fado_router_routes[];

#endif /* FADO_ROUTER_H */
