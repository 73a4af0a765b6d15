/*
 * Responses egress generates itself (spec/egress.md §2.5): a text/plain
 * body whose first line starts "bb-sidecar: egress", then reason:, and
 * rule:, host:, hint: when they apply.  Never a secret value.
 */
#ifndef EG_REFUSE_H
#define EG_REFUSE_H

#include <stddef.h>

struct evbuffer;

struct eg_refusal {
	int		 status;
	const char	*reason;	/* the fixed token (metrics label) */
	char		 msg[512];	/* the first line after "bb-sidecar: " */
	const char	*rule;		/* may be NULL */
	char		 host[300];	/* may be empty */
	const char	*hint;		/* may be NULL */
	int		 close;		/* Connection: close */
	const char	*event;		/* log event; NULL: block or error */
};

/* Fills r; msg is printf-formatted.  Returns r. */
struct eg_refusal *eg_refusal_set(struct eg_refusal *r, int status,
		    const char *reason, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* Writes the whole response to out.  0 or -1 (out of memory). */
int		 eg_refusal_write(const struct eg_refusal *r,
		    struct evbuffer *out);
/* The status egress answers for a reason token, 0 if unknown. */
int		 eg_refusal_status(const char *reason);

/* The i-th reason token of the table (NULL past the end). */
const char	*eg_refusal_reason_at(size_t i, int *status);

#endif /* EG_REFUSE_H */
