/*
 * The WebSocket relay after a 101 (spec/egress.md §13): egress ends the
 * framing on both sides, scans each client message with the outbound
 * detectors and each server text message with inbound detection, and
 * builds fresh frames (client->server masked with new keys).
 */
#ifndef EG_WSRELAY_H
#define EG_WSRELAY_H

struct eg_refusal;
struct eg_xchg;
struct eg_wsr;

/* The 101 went out: sets up both parsers.  0 or -1. */
int	 eg_wsr_start(struct eg_xchg *x);
/* Bytes arrived (or room appeared) on one side. */
void	 eg_wsr_relay(struct eg_xchg *x, int from_agent);
/* Closes both sides with code and reason (1008 policy, 1001 idle). */
void	 eg_wsr_close(struct eg_xchg *x, unsigned code, const char *reason);
/* A hold on a client message was decided (hold.c via dlp.c). */
void	 eg_wsr_released(void *xchg, int approved, const struct eg_refusal *r);
void	 eg_wsr_free(struct eg_xchg *x);

#endif /* EG_WSRELAY_H */
