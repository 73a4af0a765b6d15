/* egress's /metrics series (spec/egress.md §19), registered at start. */
#ifndef EG_EMETRICS_H
#define EG_EMETRICS_H

#include <stdint.h>

struct eg_worker;

#define EG_MAX_REASONS	64

struct eg_metric_slots {
	int	 conns_agent;		/* bb_egress_connections_active{agent} */
	int	 sc_conns;		/* bb_sidecar_connections_active{egress} */
	int	 tunnels;
	int	 websockets;
	int	 forwarded, sc_forwarded;
	int	 local, sc_local;
	int	 refused[EG_MAX_REASONS];	/* by the refusal table */
	int	 sc_refused[EG_MAX_REASONS];
	int	 sc_refusal_reason[EG_MAX_REASONS];
	int	 bytes_up, bytes_down;
	int	 routes, generation;
	int	 reload_ok, reload_error;
	int	 cert_hit, cert_miss, cert_entries;
	int	 duration;		/* histogram's first slot */
	int	 injection_warn, injection_block;
	int	 safelist;
};

/* DLP hit actions, for bb_egress_dlp_hits_total{action}. */
enum eg_dlp_action_m { EG_DA_BLOCK, EG_DA_REDACT, EG_DA_HOLD, EG_DA_WARN,
	EG_DA_COUNT };

extern struct eg_metric_slots eg_m;

void	 eg_metrics_init(void);
void	 eg_metrics_refusal(struct eg_worker *ew, const char *reason);
void	 eg_metrics_forwarded(struct eg_worker *ew);
void	 eg_metrics_local(struct eg_worker *ew);
void	 eg_metrics_bytes(struct eg_worker *ew, uint64_t up, uint64_t down);
void	 eg_metrics_duration(struct eg_worker *ew, uint64_t ms);
/* One DLP hit: rule_idx from the scan table, or -1 (known secret/entropy). */
void	 eg_metrics_dlp_hit(struct eg_worker *ew, int rule_idx,
	    unsigned detector, enum eg_dlp_action_m action);
void	 eg_metrics_injection(struct eg_worker *ew, int block);

#endif /* EG_EMETRICS_H */
