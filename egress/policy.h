/*
 * Request policy, stages 3-12 of spec/egress.md §1, decided on the head
 * alone: nothing here does I/O.
 */
#ifndef EG_POLICY_H
#define EG_POLICY_H

struct cm_http_msg;
struct eg_conn;
struct eg_refusal;
struct eg_xchg;

/*
 * CONNECT (§3.1): 0 with the tunnel fields of c set, -1 and *r, or 1
 * held (eg_conn_connect_released() continues).
 */
int	 eg_policy_connect(struct eg_conn *c, struct cm_http_msg *m,
	    struct eg_refusal *r);
/*
 * A request head: 0 with x->r filled and the forwarded fields of
 * x->req rewritten (§7), or -1 and *r.
 */
int	 eg_policy_request(struct eg_xchg *x, struct eg_refusal *r);

/* Stage 12: adds the route's credential (§7.3).  0, or -1 and *r. */
int	 eg_policy_inject(struct eg_xchg *x, struct eg_refusal *r);
/*
 * Stage 7-8 again on a rewritten request (redact, §9.2): 0 when the git
 * rules and matches still allow it, else -1 and *r.
 */
int	 eg_policy_recheck(struct eg_xchg *x, struct eg_refusal *r);

#endif /* EG_POLICY_H */
