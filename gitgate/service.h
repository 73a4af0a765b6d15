/* The gitgate service table, wired into common/main.c. */
#ifndef GG_SERVICE_H
#define GG_SERVICE_H

#include "common/service.h"

extern const struct cm_service gg_service;

#endif /* GG_SERVICE_H */
