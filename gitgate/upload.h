/*
 * upload-pack's worker side, shared by upload.c (v0/v1, the job
 * plumbing and the pack stream) and v2.c (protocol v2 commands).
 */
#ifndef GG_UPLOAD_H
#define GG_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

struct event;
struct gg_neg;
struct gg_pkt;
struct gg_refs;
struct gg_sess;

enum gg_upload_state {
	GG_UP_ADV,		/* waiting for the ref list */
	GG_UP_REQ,		/* want/shallow/deepen lines */
	GG_UP_HAVES,		/* have lines of a round */
	GG_UP_JOB,		/* a job runs */
	GG_UP_STREAM,		/* sending the pack */
	GG_UP_END,
};

enum gg_upload_job {
	GG_UJ_WANTS,		/* stateful: check wants, deepen */
	GG_UJ_ROUND,		/* stateful: a round of haves ended by flush */
	GG_UJ_FINAL,		/* stateful: done; then the pack */
	GG_UJ_ALL,		/* stateless: everything of one POST */
	GG_UJ_V2_FETCH,		/* v2: one fetch command */
};

/* Protocol v2 (v2.c): one command at a time. */
enum gg_v2_state {
	GG_V2_CMD,		/* command=... */
	GG_V2_CAPS,		/* capability lines until delim/flush */
	GG_V2_ARGS,		/* arguments until flush */
	GG_V2_RUN,		/* a command runs */
};

struct gg_upload {
	struct gg_sess		*s;
	enum gg_upload_state	 state;
	struct gg_refs		*refs;		/* referenced */
	struct gg_neg		*neg;		/* owned */
	struct gg_pkt		*pkt;		/* owned: the read buffer */
	int			 wants_done;
	int			 refs_ready;	/* rpc: the list came */
	int			 req_done;	/* rpc: the request is parsed */
	char			 refresh[12];
	uint64_t		 sent;		/* pack bytes out */
	char			*tmpdir;
	/* Pack build progress (§6.5), sent by the tick. */
	int			 early;		/* n->out went out mid-job */
	int			 prog_stage;	/* last shown */
	size_t			 prog_n;
	uint64_t		 prog_ms;	/* last line, or the slot wait */
	uint64_t		 slot_ms;	/* slot wait began */
	struct event		*poll;		/* owned: while a job runs */
	/* v2 */
	int			 v2;
	enum gg_v2_state	 v2_state;
	int			 v2_cmd;	/* 1 ls-refs, 2 fetch */
	int			 v2_listed;	/* ls-refs ran (git://) */
	int			 ls_peel;
	int			 ls_symrefs;
	char			**prefixes;
	size_t			 nprefixes;
};

/* One job of an upload session (conn held while it runs). */
struct gg_ujob {
	struct gg_upload	*u;		/* its conn is held */
	enum gg_upload_job	 kind;
	int			 rc;
	int			 want_pack;
};

/* upload.c */
void		 gg_upload_job(struct gg_upload *u, enum gg_upload_job kind);
void		 gg_upload_stream(struct gg_upload *u);
void		 gg_upload_log(struct gg_upload *u, const char *result);

/* v2.c */
void		 gg_v2_start(struct gg_upload *u);
void		 gg_v2_input(struct gg_upload *u);
void		 gg_v2_job_done(struct gg_upload *u, int rc);
/* The pack of a fetch went out: the next command, or the end. */
void		 gg_v2_stream_done(struct gg_upload *u);
void		 gg_v2_free(struct gg_upload *u);

#endif /* GG_UPLOAD_H */
