/*
 * receive-pack's worker side, shared by receive.c (protocol and jobs),
 * report.c (the answer and the log) and hold.c (operator approval).
 */
#ifndef GG_RECEIVE_H
#define GG_RECEIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/queue_file.h"

struct cm_queue_req;
struct evbuffer;
struct gg_pkt;
struct gg_push;
struct gg_refs;
struct gg_sess;

enum gg_rp_state {
	GG_RP_ADV,
	GG_RP_CMDS,
	GG_RP_PRECHECK,
	GG_RP_PACK,
	GG_RP_CHECK,
	GG_RP_HOLD,
	GG_RP_FORWARD,
	GG_RP_DISCARD,		/* deleting the quarantine, then the report */
	GG_RP_END,
};

enum gg_rp_job {
	GG_RJ_PRECHECK,
	GG_RJ_INTAKE,
	GG_RJ_CHECK,
	GG_RJ_FORWARD,
	GG_RJ_DISCARD,
};

struct gg_receive {
	struct gg_sess		*s;
	enum gg_rp_state	 state;
	struct gg_refs		*refs;		/* referenced */
	struct gg_pkt		*pkt;		/* owned */
	struct gg_push		*p;		/* owned until released */
	uint64_t		 cmd_bytes;
	uint64_t		 pack_bytes;
	int			 report_status;
	int			 sideband;
	int			 quiet;
	int			 slot;		/* holds a push slot */
	int			 job;		/* one in flight */
	int			 last_rc;
	int			 last_extra;
	char			 unpack[256];	/* "" is "unpack ok" */
	const char		*decision;	/* accepted/rejected/partial */
	const char		*reason;	/* its token */
	/* The hold (hold.c). */
	struct cm_queue_req	*qreq;
	char			 proposal[CM_QUEUE_ID_BYTES];
	uint64_t		 hold_until_ms;
	uint64_t		 hold_progress_ms;
	int			 hold_s;
	char			 notes[512];
};

/* receive.c */
int		 gg_receive_job(struct gg_receive *r, enum gg_rp_job kind,
		    struct evbuffer *buf, int eof);
void		 gg_receive_job_done(struct gg_receive *r);
void		 gg_receive_orphan(struct gg_receive *r);
void		 gg_receive_release_push(struct gg_receive *r);
void		 gg_receive_forward(struct gg_receive *r);

/* report.c */
/* Every command still going gets ng reason (token for logs). */
void		 gg_receive_ng_pending(struct gg_receive *r, const char *token,
		    const char *reason);
/* "unpack <why>" (why NULL: ok) and ng for every ref, then the end. */
void		 gg_receive_fail_all(struct gg_receive *r, const char *token,
		    const char *reason, const char *unpack);
/* The §8.4 listing on band 2 (held: the suppressed ones for approval). */
void		 gg_receive_findings(struct gg_receive *r, int held);
/* The report (§7.5), the push log line, the end of the session. */
void		 gg_receive_report(struct gg_receive *r);
void		 gg_receive_log(struct gg_receive *r, const char *result);

/* hold.c */
void		 gg_hold_start(struct gg_receive *r);
void		 gg_hold_tick(struct gg_receive *r, uint64_t now);
void		 gg_hold_cancel(struct gg_receive *r);

#endif /* GG_RECEIVE_H */
