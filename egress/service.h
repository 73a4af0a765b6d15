/* The egress service table, wired into common/main.c. */
#ifndef EG_SERVICE_H
#define EG_SERVICE_H

#include <openssl/ssl.h>

#include "common/service.h"

extern const struct cm_service eg_service;

/* The agent-facing SSL_CTX of the bump (bump.c). */
SSL_CTX	*eg_bump_ctx_new(char *err, size_t errlen);

#endif /* EG_SERVICE_H */
