/*
 * The operator command (spec/supervise.md §6), shared by its files:
 * operator.c (options, list, show, text), decide.c (approve, modify,
 * reject, audit), merge.c (routes.yaml), watch.c.  It runs on the host
 * against the mounted state dir and never talks to the sidecar.
 */
#ifndef SV_OP_H
#define SV_OP_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "common/queue_file.h"

/* Exit codes (§6.5). */
#define SV_EXIT_OK		0
#define SV_EXIT_IO		1
#define SV_EXIT_USAGE		2
#define SV_EXIT_UNKNOWN		3
#define SV_EXIT_DECIDED		4
#define SV_EXIT_MALFORMED	5

struct sv_op {
	const char		*state_dir;
	const char		*config_dir;	/* NULL: no merge */
	char			 by[256];	/* decided_by */
	struct cm_qdirs		 d;
	int			 json;
};

/* What one decision asks for. */
enum sv_op_action { SV_OP_APPROVE, SV_OP_MODIFY, SV_OP_REJECT };

/* One pending file as list shows it. */
struct sv_op_item {
	char			 id[CM_QUEUE_ID_BYTES];
	json_t			*proposal;	/* owned; NULL if malformed */
	enum cm_qkind		 kind;
	int64_t			 created_ms;
	char			 state[160];	/* pending, decided, ... */
};

/* operator.c */
/* The pending files, oldest first; *n items (free with the call below). */
struct sv_op_item	*sv_op_items(struct sv_op *op, size_t *n);
void			 sv_op_items_free(struct sv_op_item *items, size_t n);
/* The one-line summary of a proposal (§6.1), malloc'd. */
char			*sv_op_summary(const json_t *proposal);
/* Terminal-safe copy of s (§6.5); multiline keeps \n and \t. */
char			*sv_op_escape(const char *s, int multiline);
/* A block describing one proposal, for show and watch. */
void			 sv_op_print_proposal(struct sv_op *op, FILE *fp,
			    const json_t *p, const char *state);
/* "approved by WHO at WHEN" of an archived or pending response, or 0. */
int			 sv_op_decided(struct sv_op *op, const char *id,
			    char *text, size_t size, int *archived);

/* decide.c */
/*
 * §6.2 steps 1-10 under the operator lock; prints its report or error
 * and returns the exit code.  payload_path only for modify.
 */
int			 sv_op_decide(struct sv_op *op, enum sv_op_action act,
			    const char *id, const char *notes,
			    const char *payload_path);
int			 sv_op_audit(struct sv_op *op, const json_t *line);

/* merge.c */
/*
 * §6.3: merges route (JSON form) into CONFIG/routes.yaml; replace for
 * modify.  0 with *change ("appended", "widened", "replaced",
 * "unchanged") and the route before (null) and after; -1 with err and
 * *code (SV_EXIT_MALFORMED or SV_EXIT_IO); nothing written then.
 * dry_run computes without writing (show).
 */
int			 sv_op_merge(const char *config_dir,
			    const json_t *route, int replace, int dry_run,
			    const char **change, json_t **before,
			    json_t **after, char *err, size_t errlen,
			    int *code);

/* watch.c */
int			 sv_op_watch(struct sv_op *op);

#endif /* SV_OP_H */
